"""Keep the global random streams in checkpoints, so a resumed run draws what an uninterrupted one does."""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from typing_extensions import override

__all__ = ["RandomStateCheckpoint"]

_KEY = "e3lab_random_state"


def _collect() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and Python random states, as tensors and plain values (so the checkpoint
    still loads with ``torch.load(weights_only=True)``)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": [
            str(kind),
            torch.from_numpy(keys.astype(np.int64)),
            int(position),
            int(has_gauss),
            float(gauss),
        ],
        "python": [int(version), list(python_state), python_gauss],
    }


def _restore(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = state.get("torch.cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, python_state, python_gauss = state["python"]
    random.setstate((version, tuple(python_state), python_gauss))


class RandomStateCheckpoint(pl.Callback):
    """Save the global random states (torch CPU/CUDA, numpy, Python) in every checkpoint and restore them
    when training resumes; run validation on a side copy of them.

    - ``on_save_checkpoint``: the states go into ``checkpoint["e3lab_random_state"]``.
    - A resumed fit restores them in ``on_train_start``, just before the next training step, so random
      draws in training (dropout, random rotations in a step) continue as if the run had not stopped.
    - Validation starts from a saved copy of the states and gives them back when it ends
      (``on_validation_end`` runs before ``ModelCheckpoint``'s save), so a validation that an interrupted
      run repeats, or skips, cannot shift the training stream.

    Together with :class:`e3lab.data.ResumableLoader` (per-batch seeded data) this makes a run killed at
    any moment and resumed from its last checkpoint end with the weights of an uninterrupted run.
    Hand-written: Lightning does not store random states in its checkpoints.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._before_validation: dict[str, Any] | None = None

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[_KEY] = self._before_validation if self._before_validation is not None else _collect()

    @override
    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._pending = checkpoint.get(_KEY)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            _restore(pending)

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_validation = _collect()

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        saved, self._before_validation = self._before_validation, None
        if saved is not None:
            _restore(saved)
