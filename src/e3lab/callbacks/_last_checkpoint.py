"""The run's ``last`` checkpoint: where it lives and how a callback writes it outside the normal schedule.

Shared by :class:`GracefulShutdown` (a signal) and :class:`FiniteLossGuard` (a non-finite loss), which both
save the current state as ``last`` between ``ModelCheckpoint``'s own saves.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["last_checkpoint_callback", "last_checkpoint_path", "save_last_checkpoint"]


def last_checkpoint_callback(trainer: pl.Trainer) -> ModelCheckpoint | None:
    """The first ``ModelCheckpoint`` with ``save_last`` and a ``dirpath``, or None."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath is not None:
            return callback
    return None


def last_checkpoint_path(trainer: pl.Trainer) -> Path | None:
    """``<dirpath>/last.ckpt`` of the :func:`last_checkpoint_callback`, or None when there is none."""
    callback = last_checkpoint_callback(trainer)
    if callback is None:
        return None
    assert callback.dirpath is not None
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


def save_last_checkpoint(trainer: pl.Trainer, path: Path | None = None) -> Path | None:
    """Save the trainer's state to ``path`` (default :func:`last_checkpoint_path`); return where, or None.

    Goes through ``trainer.save_checkpoint``, hence the trainer's ``CheckpointIO`` (atomic with
    :class:`AtomicCheckpointIO`). When ``path`` is the ``ModelCheckpoint``'s own ``last`` file, the callback
    is told that it holds its last checkpoint (``last_model_path``), so ``fit(ckpt_path="last")`` and the
    run summary find it.
    """
    default = last_checkpoint_path(trainer)
    path = path if path is not None else default
    if path is None:
        return None
    trainer.save_checkpoint(path)
    callback = last_checkpoint_callback(trainer)
    if callback is not None and default is not None and default.resolve() == Path(path).resolve():
        callback.last_model_path = str(path)
        # the callback's own "saved at this step" mark: it does not write the same state again
        callback._last_global_step_saved = trainer.global_step
    return Path(path)
