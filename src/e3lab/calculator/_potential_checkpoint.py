"""Load an interatomic potential from a ``train.py`` checkpoint alone (no YAML, no Hydra, no trainer).

A potential is a LightningModule with ``predict(batch, forces=..., stress=..., create_graph=...)`` whose
hyperparameters carry ``chemical_symbols`` (element of each type index) and ``cutoff`` (A): what
``e3lab.models.InteratomicPotential`` saves. e3lab's models record their class in the checkpoint
(``e3lab_model_class``), so the class is rebuilt from the file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

__all__ = ["load_potential", "potential_symbols_cutoff"]

_REQUIRED_HPARAMS = ("chemical_symbols", "cutoff")


def _model_class(path: Path, checkpoint: dict[str, Any]) -> type:
    class_path = checkpoint.get("e3lab_model_class")
    if class_path is None:
        raise ValueError(
            f"checkpoint {str(path)!r} has no 'e3lab_model_class' entry: it was not written by an e3lab "
            "model; "
            "give a checkpoint of `python train.py experiment=<a potential experiment, e.g. emt_cu>`"
        )
    module, _, name = str(class_path).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"checkpoint {str(path)!r} was written by {class_path}, which this e3lab cannot import ({err}); "
            "use the e3lab version that trained it"
        ) from err


def load_potential(path: str | Path, device: torch.device | str = "cpu") -> Any:
    """The potential stored in ``path``, in eval mode on ``device``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the checkpoint is not an e3lab model, or its model is not a potential (e.g. a
            checkpoint of ``experiment=tetris``), naming the class found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; give the path of a .ckpt file")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(
            f"{str(path)!r} is not a Lightning checkpoint (no 'state_dict'); give a .ckpt of train.py"
        )
    cls = _model_class(path, checkpoint)
    hparams = checkpoint.get("hyper_parameters") or {}
    missing = [key for key in _REQUIRED_HPARAMS if key not in hparams]
    if not callable(getattr(cls, "predict", None)) or missing:
        raise ValueError(
            f"checkpoint {str(path)!r} holds a {cls.__module__}.{cls.__qualname__}, which is not an "
            "interatomic potential (it needs predict(batch, forces=..., stress=...) and hyperparameters "
            f"{list(_REQUIRED_HPARAMS)}{'; missing: ' + str(missing) if missing else ''}); give a checkpoint "
            "of a potential experiment, "
            "e.g. `python train.py experiment=emt_cu`"
        )
    model = cls.load_from_checkpoint(path, map_location=device)
    model.eval()
    return model


def potential_symbols_cutoff(model: Any) -> tuple[list[str], float]:
    """``(chemical_symbols, cutoff)`` from a potential's hyperparameters, checked."""
    hparams = getattr(model, "hparams", {})
    missing = [key for key in _REQUIRED_HPARAMS if key not in hparams]
    if missing or not callable(getattr(model, "predict", None)):
        raise TypeError(
            f"{type(model).__name__} is not an interatomic potential: it needs predict(batch, forces=..., "
            f"stress=...) and hyperparameters {list(_REQUIRED_HPARAMS)} (missing: {missing})"
        )
    symbols = [str(s) for s in hparams["chemical_symbols"]]
    cutoff = float(hparams["cutoff"])
    if not symbols or not cutoff > 0:
        raise ValueError(
            f"the potential has chemical_symbols={symbols} and cutoff={cutoff}; both must be set"
        )
    return symbols, cutoff
