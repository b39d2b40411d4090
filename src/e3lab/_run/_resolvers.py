"""The OmegaConf resolvers of e3lab's configs, registered in one place: :func:`register_resolvers`."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import OmegaConf

__all__ = ["register_resolvers"]


def _sh_irreps(lmax: int) -> str:
    """Irreps of a spherical signal up to ``lmax``: ``"1x0e + 1x1o + 1x2e + ..."`` (parity ``(-1)^l``)."""
    lmax = int(lmax)
    if lmax < 0:
        raise ValueError(f"lmax={lmax} must be >= 0")
    return " + ".join(f"1x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(lmax + 1))


def _species_irreps(chemical_symbols: Sequence[str]) -> str:
    """``"{len(chemical_symbols)}x0e"``: the one-hot species, an atoms data config's ``irreps_in``."""
    return f"{len(chemical_symbols)}x0e"


def _direction(mode: str) -> str:
    """Optuna direction from a checkpoint mode: ``min -> minimize``, ``max -> maximize``."""
    directions = {"min": "minimize", "max": "maximize"}
    if mode not in directions:
        raise ValueError(f"monitor_mode={mode!r} must be 'min' or 'max'")
    return directions[mode]


def register_resolvers() -> None:
    """Register the OmegaConf resolvers the configs use (idempotent).

    Static resolvers are registered when the mains are imported. Resolvers whose values come from the
    built datamodule (e.g. ``training_data_stats``, from ``datamodule.statistics()``) are registered here
    too, by a call from ``train.py`` once the datamodule exists; add them below, next to the others.
    """
    OmegaConf.register_new_resolver("sh_irreps", _sh_irreps, replace=True)
    OmegaConf.register_new_resolver("hparams_direction", _direction, replace=True)
    OmegaConf.register_new_resolver("species_irreps", _species_irreps, replace=True)
