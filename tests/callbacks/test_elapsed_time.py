"""ElapsedTimeCallback: wall time since fit start with every logged step and validation, mean step time."""

from __future__ import annotations

import csv

import torch

from e3lab.callbacks import ElapsedTimeCallback

from ._callback_toys import ToyTask, batches, tiny_trainer


def test_elapsed_time_goes_with_training_rows_and_validation_rows(tmp_path):
    torch.manual_seed(0)
    task = ToyTask()
    trainer = tiny_trainer(tmp_path, [ElapsedTimeCallback()], max_epochs=2, log_every_n_steps=1)
    trainer.fit(task, batches(3, task.net), batches(1, task.net))
    with (tmp_path / "csv" / "version_0" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    train = [r for r in rows if r.get("train/loss")]
    val = [r for r in rows if r.get("val/loss")]
    assert len(train) == 6 and all(r["time/elapsed_s"] for r in train)
    assert len(val) == 2 and all(r["time/elapsed_s"] and float(r["time/train_step_ms"]) > 0 for r in val)
    elapsed = [float(r["time/elapsed_s"]) for r in rows if r.get("time/elapsed_s")]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    # the mean step time of an epoch is at most the epoch's share of the elapsed time
    assert float(val[0]["time/train_step_ms"]) * 3 <= 1e3 * float(val[0]["time/elapsed_s"])
