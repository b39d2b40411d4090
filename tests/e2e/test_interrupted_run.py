"""A run stopped by SIGTERM is recorded as "interrupted" with its checkpoint, skips the test, and resumes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import open_dict

from e3lab.train import run

from .conftest import TINY_SHAPES, compose_config

TINY = [
    "experiment=rect_to_square",
    "logger=csv",
    "callbacks.equivariance=null",
    "callbacks.rich_progress_bar=null",
    *TINY_SHAPES,
    "trainer.max_epochs=4",
]


class SignalAtStep(pl.Callback):
    """Sends SIGTERM to this process when training step ``step`` starts (as a scheduler would)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_sigterm_gives_status_interrupted_with_the_checkpoint_and_no_test(tmp_path: Path) -> None:
    cfg = compose_config("train", TINY, tmp_path)
    with open_dict(cfg):
        cfg.callbacks.sigterm = {"_target_": f"{__name__}.SignalAtStep", "step": 3}
    before = signal.getsignal(signal.SIGTERM)
    run(cfg)  # returns normally: the process would exit 0
    assert signal.getsignal(signal.SIGTERM) is before
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "interrupted"
    assert status["signal"] == "SIGTERM"
    ckpt = Path(status["ckpt_path"])
    assert ckpt == tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=False)["global_step"] == 4  # step 3 finished, then it stopped
    assert not any(key.startswith("test/") for key in status["metrics"])  # the test step was skipped

    # resume=auto finishes the run and marks it completed, with test metrics
    run(compose_config("train", [*TINY, "resume=auto"], tmp_path))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed"
    assert "test/loss" in status["metrics"]
    assert torch.load(ckpt, weights_only=False)["global_step"] == 8
