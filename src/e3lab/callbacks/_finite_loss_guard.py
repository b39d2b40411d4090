"""Stop a run as soon as a loss turns NaN or infinite, before it can reach the weights or a checkpoint."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch
from typing_extensions import override

from e3lab.callbacks._last_checkpoint import last_checkpoint_callback, save_last_checkpoint

__all__ = ["FiniteLossGuard", "NonFiniteLossError"]


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`FiniteLossGuard`; the message names the loss, its value and the step."""


class FiniteLossGuard(pl.Callback):
    """Raise :class:`NonFiniteLossError` when a loss becomes NaN or +-Inf.

    - Training: the loss handed to ``backward`` is checked in ``on_before_backward``, so the run stops
      before the bad gradients reach the optimiser; the weights stay those of the previous step, and the
      guard writes them to the checkpoint callback's ``last.ckpt`` (which ``ModelCheckpoint`` alone would
      not have written yet when validation, hence its monitored save, is sparse).
    - Validation: every logged metric whose name contains ``"loss"`` is checked in ``on_validation_end``;
      Lightning runs checkpoint callbacks after all others, so the check comes before any save.

    Raising makes Lightning abort the fit without saving (``ModelCheckpoint`` does not save on an
    exception), so the best checkpoint keeps its last good contents. In a
    distributed run the decision is reduced over ranks, so every rank stops together.
    """

    def __init__(self) -> None:
        self._batch_idx = -1

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: object, batch_idx: int
    ) -> None:
        self._batch_idx = batch_idx

    @override
    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        value = float(loss.detach().float().sum()) if loss.numel() > 0 else 0.0
        if not _any_rank(trainer, not math.isfinite(value)):
            return
        where = f"global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {self._batch_idx})"
        # with sparse validation ModelCheckpoint may not have written last.ckpt yet: write the finite state
        save_last_checkpoint(trainer)
        raise NonFiniteLossError(
            f"the training loss became {value} at {where}; stopped before the optimiser step, so the "
            f"weights and checkpoints keep their last finite state{_checkpoint_note(trainer)}. "
            "Lower the learning rate, clip gradients (Trainer(gradient_clip_val=...)) or check the data."
        )

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        bad = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if "loss" in name and value.numel() == 1 and not math.isfinite(float(value))
        }
        if not _any_rank(trainer, bool(bad)):
            return
        names = (
            ", ".join(f"{name}={value}" for name, value in sorted(bad.items())) or "a loss on another rank"
        )
        raise NonFiniteLossError(
            f"validation gave a non-finite loss ({names}) at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}); stopped before checkpointing, so the checkpoints keep "
            f"their last finite state{_checkpoint_note(trainer)}. Check the model's outputs and the data."
        )


def _any_rank(trainer: pl.Trainer, flag: bool) -> bool:
    """True when ``flag`` holds on at least one rank (no collective on a single process)."""
    if trainer.world_size == 1:
        return flag
    return bool(trainer.strategy.reduce_boolean_decision(flag, all=False))


def _checkpoint_note(trainer: pl.Trainer) -> str:
    last = last_checkpoint_callback(trainer)
    best = trainer.checkpoint_callback
    path = getattr(last, "last_model_path", "") or getattr(best, "best_model_path", "")
    return f" (last saved: {path})" if path else ""
