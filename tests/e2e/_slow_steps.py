"""A callback that makes every training step of a run's first start last ``seconds`` more, so that a
scheduler's signal finds it busy; once resumed from a checkpoint the run goes at full speed."""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl


class SlowUntilResumed(pl.Callback):
    """Sleep ``seconds`` after every training step, unless this fit resumed from a checkpoint."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.ckpt_path is None:
            time.sleep(self.seconds)
