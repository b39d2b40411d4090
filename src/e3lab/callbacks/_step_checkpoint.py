"""``last.ckpt`` every N optimiser steps and at every epoch end: a killed run loses at most N steps."""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override

from e3lab.data._loaders import ResumableLoader

__all__ = ["StepCheckpoint"]


class StepCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` that keeps only ``<dirpath>/last.ckpt``, rewritten (atomically, with
    :class:`AtomicCheckpointIO`) every ``every_n_train_steps`` optimiser steps, at the end of every training
    epoch (after its validation) and when training ends.

    Args:
        dirpath: the checkpoint directory.
        every_n_train_steps: steps between two mid-epoch saves (> 0).

    The step of an epoch's last batch is not saved from ``on_train_batch_end`` but at the epoch's end:
    a checkpoint taken between the last batch and its validation would make a resumed run skip that
    validation. With the data order resumable mid-epoch (:class:`e3lab.data.ResumableLoader`) and the random
    states in the checkpoint (:class:`RandomStateCheckpoint`), ``resume=auto`` continues from any of these
    saves as if the run had never stopped. Hand-written on top of ``ModelCheckpoint`` because its step and
    epoch triggers are mutually exclusive.
    """

    def __init__(
        self, dirpath: str | os.PathLike[str], every_n_train_steps: int = 100, **kwargs: Any
    ) -> None:
        if not isinstance(every_n_train_steps, int) or every_n_train_steps < 1:
            raise ValueError(f"every_n_train_steps={every_n_train_steps!r} must be an int >= 1")
        super().__init__(
            dirpath=dirpath,
            save_last=True,
            save_top_k=0,
            every_n_train_steps=every_n_train_steps,
            enable_version_counter=False,
            **kwargs,
        )

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        # a save inside a step (FiniteLossGuard's) must resume with that step's batch: count finished ones
        loaders = getattr(trainer.fit_loop._combined_loader, "flattened", [])
        for loader in loaders:
            if isinstance(loader, ResumableLoader):
                loader.count_batches_with(
                    lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed
                )

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return  # saved at the epoch's end, after its validation
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save_last(trainer)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Nothing: the epoch's end (after validation) saves."""

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save_last(trainer)

    def _save_last(self, trainer: pl.Trainer) -> None:
        if self._should_skip_saving_checkpoint(trainer):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._last_global_step_saved = trainer.global_step
