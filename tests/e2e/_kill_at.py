"""A callback that SIGKILLs its own training process at a chosen moment (for the hard-kill test).

Loaded by ``python train.py +callbacks.kill._target_=tests.e2e._kill_at.KillAt ...``: nothing gets a chance
to save, exactly as with the OOM killer or ``scancel --signal=KILL``.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning.pytorch as pl
import torch


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(pl.Callback):
    """SIGKILL this process at one moment of training.

    Args:
        kind: ``"step"``: mid-step, after the backward pass of optimiser step ``at`` and before the
            optimiser applies it; ``"validation"``: mid-validation, after the first validation batch of
            the validation that follows optimiser step ``at``; ``"checkpoint"``: mid-write, after part of
            the bytes of the checkpoint saved at optimiser step ``at`` reached its temporary file.
        at: the optimiser step (``trainer.global_step`` when the moment comes).
    """

    def __init__(self, kind: str, at: int) -> None:
        if kind not in ("step", "validation", "checkpoint"):
            raise ValueError(f"kind={kind!r} must be 'step', 'validation' or 'checkpoint'")
        self.kind, self.at = kind, at

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        if self.kind == "step" and trainer.global_step == self.at:
            _die()

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.kind == "validation" and trainer.global_step == self.at and not trainer.sanity_checking:
            _die()

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        if self.kind != "checkpoint" or trainer.global_step != self.at:
            return
        real_save = torch.save

        def save_half_then_die(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            real_save(obj, f, *args, **kwargs)
            f.truncate(f.tell() // 2)  # half of the bytes on disk, then the kill
            f.flush()
            _die()

        torch.save = save_half_then_die  # the next write: this checkpoint's
