"""A Lightning callback that records a training run against wall-clock time, the same way for any framework.

Used by ``scripts/bench_nequip.py`` in both the NequIP run and the e3lab run (added to each one's trainer
callbacks by config, ``PYTHONPATH`` pointing here), so both are timed by the same code:

- ``curve.csv``: one row per validation: seconds since training started, epoch, step, and the validation
  force MAE (eV/A, ``metric`` times ``scale``);
- ``steps.json`` at the end of training: the time between consecutive training-batch starts (a whole
  step: data, forward, forces, backward, optimizer, EMA, logging), its median and count, and the number
  of trainable parameters;
- ``test.json``: every scalar metric after testing.

It imports only Lightning and the standard library, so it loads in a NequIP environment too.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

__all__ = ["WallClockRecorder"]


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class WallClockRecorder(Callback):
    """Record validation force MAE against wall time, step times and test metrics into ``out_dir``.

    Args:
        out_dir: folder of ``curve.csv``, ``steps.json`` and ``test.json``.
        metric: the validation force MAE's name in ``trainer.callback_metrics``.
        scale: multiplies the metric to give eV/A (e.g. 1e-3 for a metric in meV/A).
        skip_steps: the first steps left out of the step-time median (warm-up).
    """

    def __init__(self, out_dir: str, metric: str, scale: float = 1.0, skip_steps: int = 3) -> None:
        self.out_dir = Path(out_dir)
        self.metric = metric
        self.scale = float(scale)
        self.skip_steps = int(skip_steps)
        self._start: float | None = None
        self._last_batch_start: float | None = None
        self._step_times: list[float] = []

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._start = time.perf_counter()
        with open(self.out_dir / "curve.csv", "w") as f:
            f.write("wall_s,epoch,step,val_forces_mae_ev_per_a\n")

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._last_batch_start is not None:
            self._step_times.append(now - self._last_batch_start)
        self._last_batch_start = now

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._last_batch_start = None  # a step interval that spans a validation is not a step

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self._start is None or trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.metric)
        mae = float(value) * self.scale if value is not None else math.nan
        with open(self.out_dir / "curve.csv", "a") as f:
            f.write(
                f"{time.perf_counter() - self._start:.3f},{trainer.current_epoch},{trainer.global_step},"
                f"{mae:.8g}\n"
            )

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        times = self._step_times[self.skip_steps :] or self._step_times
        summary = {
            "step_times_s": times,
            "median_step_s": statistics.median(times) if times else math.nan,
            "steps": trainer.global_step,
            "train_wall_s": time.perf_counter() - self._start if self._start is not None else math.nan,
            "trainable_parameters": sum(p.numel() for p in pl_module.parameters() if p.requires_grad),
        }
        (self.out_dir / "steps.json").write_text(json.dumps(summary))

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "test.json").write_text(
            json.dumps(_scalars(dict(trainer.callback_metrics)), indent=1)
        )
