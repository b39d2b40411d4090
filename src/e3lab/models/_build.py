"""Objects from plain ``_target_`` configs (no Hydra: the models layer builds its own backbone and optimizer).

A config is a mapping with ``_target_`` (the dotted path of a class or function) and its keyword arguments;
``_partial_: true`` returns ``functools.partial`` instead of calling it. Nested mappings with a ``_target_``
(in values or lists) are built first. It is the subset of Hydra's ``instantiate`` the models need, so that a
checkpoint's hyperparameters (plain dicts) rebuild the model without Hydra.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

import torch

from e3lab.nn import Backbone

_KEYS = ("_target_", "_partial_")


def locate(path: str) -> Any:
    """The object at the dotted ``path`` (``"e3lab.nn.NequIPNet"``, ``"torch.optim.Adam"``)."""
    if not isinstance(path, str) or "." not in path:
        raise ValueError(f"_target_={path!r} must be a dotted path like 'e3lab.nn.NequIPNet'")
    module_path, attribute = path, []
    while "." in module_path:
        module_path, _, name = module_path.rpartition(".")
        attribute.insert(0, name)
        try:
            obj: Any = importlib.import_module(module_path)
        except ModuleNotFoundError:
            continue
        try:
            for name in attribute:
                obj = getattr(obj, name)
        except AttributeError:
            break
        return obj
    raise ValueError(
        f"cannot import _target_={path!r}: check the module and the name (e.g. e3lab.nn.NequIPNet)"
    )


def build(config: Any) -> Any:
    """Build ``config`` (see the module docstring); values without ``_target_`` are returned as they are."""
    if isinstance(config, list | tuple):
        return type(config)(build(item) for item in config)
    if not isinstance(config, Mapping):
        return config
    if "_target_" not in config:
        return {key: build(value) for key, value in config.items()}
    unknown = [key for key in config if key.startswith("_") and key.endswith("_") and key not in _KEYS]
    if unknown:
        raise ValueError(f"config keys {unknown} are not supported here (only {list(_KEYS)}): remove them")
    target = locate(config["_target_"])
    kwargs = {key: build(value) for key, value in config.items() if key not in _KEYS}
    if config.get("_partial_", False):
        return functools.partial(target, **kwargs)
    try:
        return target(**kwargs)
    except TypeError as err:
        raise TypeError(f"building {config['_target_']}: {err}") from err


def build_backbone(net: Any) -> torch.nn.Module:
    """The backbone of a ``net`` config: a mapping with ``_target_`` naming a :class:`~e3lab.nn.Backbone`."""
    if not isinstance(net, Mapping) or "_target_" not in net:
        raise TypeError(
            "net must be a config with a _target_ naming the backbone class and its arguments, e.g. "
            f"{{'_target_': 'e3lab.nn.EquivariantConvNet', 'irreps_in': '1x0e', ...}}; got {net!r}"
        )
    module = build(net)
    if not isinstance(module, torch.nn.Module) or not isinstance(module, Backbone):
        raise TypeError(
            f"net._target_={net['_target_']!r} built a {type(module).__name__}, which is not a backbone: it "
            "must be a torch.nn.Module with irreps_in, irreps_out and forward(x, pos, batch, edge_index, "
            "edge_vec) (see e3lab.nn.Backbone)"
        )
    return module
