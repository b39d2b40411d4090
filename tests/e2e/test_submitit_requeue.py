"""A training job under submitit's local executor gets the SIGUSR2 that submitit sends before its time limit:
it saves, stops, submitit requeues it, and the requeued job resumes from its own run folder and finishes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from tests.e2e._submitit_job import TrainJob  # by its package name: the job unpickles it

from .conftest import ROOT

STEPS = 40


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigusr2_before_the_time_limit_requeues_and_the_job_resumes(tmp_path: Path, monkeypatch) -> None:
    submitit = pytest.importorskip("submitit")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the job imports tests.e2e helpers
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run_dir = tmp_path / "run"
    overrides = [
        "experiment=rect_to_square",
        "logger=csv",
        "callbacks.equivariance=null",
        "callbacks.rich_progress_bar=null",
        "callbacks.signal_plots=null",
        "callbacks.symmetry_report=null",
        "data.lmax=2",
        "model.net.radial_hidden=8",
        "data.steps_per_epoch=10",
        f"trainer.max_epochs={STEPS // 10}",
        "trainer.log_every_n_steps=1",
        # 1 s per step until resumed: the first start is still training when SIGUSR2 comes
        "+callbacks.slow._target_=tests.e2e._slow_steps.SlowUntilResumed",
        "+callbacks.slow.seconds=1.0",
        f"hydra.run.dir={run_dir}",
    ]
    executor = submitit.LocalExecutor(folder=tmp_path / "submitit", max_num_timeout=3)
    # submitit sends SIGUSR2 signal_delay_s before the 1-minute limit: 40 s after the job starts
    executor.update_parameters(timeout_min=1, signal_delay_s=20)
    job = executor.submit(TrainJob(overrides))
    job.result()  # raises if the job failed or was not requeued

    log = (run_dir / "train.log").read_text()
    assert "stopped by SIGUSR2" in log, log[-3000:]
    assert "handing SIGUSR2 to the scheduler" in log
    assert "Requeued job" in log  # submitit's own message, from its handler
    assert log.count("resume=auto: resuming from") == 1  # the requeued job found its checkpoint
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "completed"
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == STEPS
    steps = [
        int(row["step"])
        for row in csv.DictReader((run_dir / "csv" / "metrics.csv").open())
        if row["train/loss"]
    ]
    assert steps == list(range(STEPS))  # one history, each step once
    assert [p.name for p in tmp_path.iterdir() if p.name != "submitit"] == ["run"]  # no second run folder
