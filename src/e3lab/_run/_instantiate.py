"""Build the objects of a config group that maps names to ``_target_`` configs (loggers, callbacks)."""

from __future__ import annotations

import logging
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

__all__ = ["instantiate_group"]

log = logging.getLogger("e3lab")


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a config group that maps names to ``_target_`` configs (loggers, callbacks).

    Entries set to null (``callbacks.rich_progress_bar=null``) are skipped.
    """
    if group is None:
        return []
    if not isinstance(group, DictConfig):
        raise TypeError(f"expected a mapping of name -> config with _target_, got {type(group).__name__}")
    objects = []
    for name, cfg in group.items():
        if cfg is None:
            continue
        if not isinstance(cfg, DictConfig) or "_target_" not in cfg:
            raise ValueError(f"entry {name!r} has no _target_; each entry must be a config with a _target_")
        log.info("instantiating %s <%s>", name, cfg._target_)
        objects.append(instantiate(cfg))
    return objects
