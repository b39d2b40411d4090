"""Log the wall time since fitting started and the time per training step, for curves against wall time."""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl
from typing_extensions import override

__all__ = ["ElapsedTimeCallback"]


class ElapsedTimeCallback(pl.Callback):
    """Log ``time/elapsed_s`` (wall seconds since fit start) and ``time/train_step_ms``.

    ``time/elapsed_s`` goes with every logged training step and every validation epoch, so each row of
    the CSV log (and each W&B point) can be plotted against wall time as well as against steps.
    ``time/train_step_ms`` is the mean wall time of the training batches (forward, backward, optimiser
    step and the other callbacks' work on them) since the previous validation, logged at validation ends.
    A resumed run counts from its own start.
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._batch_start = 0.0
        self._batch_seconds = 0.0
        self._batches = 0

    def elapsed(self) -> float:
        """Seconds since ``on_fit_start`` (0 before it)."""
        return 0.0 if self._start is None else time.perf_counter() - self._start

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._batch_start = time.perf_counter()

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._batch_seconds += time.perf_counter() - self._batch_start
        self._batches += 1
        pl_module.log(
            "time/elapsed_s", self.elapsed(), on_step=True, on_epoch=False, batch_size=1, rank_zero_only=True
        )

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {"time/elapsed_s": self.elapsed()}
        if self._batches:
            metrics["time/train_step_ms"] = 1e3 * self._batch_seconds / self._batches
            self._batch_seconds, self._batches = 0.0, 0
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, batch_size=1, rank_zero_only=True)
