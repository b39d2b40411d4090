"""The process the run lives in: torch's thread count, and whether Hydra runs it as a multirun job."""

from __future__ import annotations

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

__all__ = ["is_multirun", "set_num_threads"]


def set_num_threads(num_threads: int | None) -> None:
    """Apply the ``num_threads`` config key with ``torch.set_num_threads``; ``None`` keeps torch's default.

    Raises:
        ValueError: ``num_threads`` is not a positive integer.
    """
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads={num_threads!r} must be a positive integer or null (torch's default)")
    torch.set_num_threads(num_threads)


def is_multirun() -> bool:
    """True inside a Hydra multirun job."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
