"""SIGKILL a training run at 5 moments picked from a seed (mid-step, mid-validation, mid-checkpoint-write
among them), resume each time with resume=auto: the final weights, metrics and CSV history equal those of
an uninterrupted run."""

from __future__ import annotations

import csv
import json
import math
import random
import signal
from pathlib import Path

import pytest
import torch

from .conftest import run_script

STEPS_PER_EPOCH, EPOCHS, EVERY = 3, 3, 2
TOTAL = STEPS_PER_EPOCH * EPOCHS
# float64, random rotations of every training example (seeded per batch), validation every epoch,
# a train row every step, last.ckpt every 2 steps and at every epoch end
RUN = [
    "experiment=rect_to_square",
    "logger=csv",
    "callbacks.equivariance=null",
    "callbacks.rich_progress_bar=null",
    "callbacks.signal_plots=null",
    "callbacks.symmetry_report=null",
    "data.lmax=2",
    f"data.steps_per_epoch={STEPS_PER_EPOCH}",
    "data.augment_rotations=true",
    "model.net.radial_hidden=8",
    f"trainer.max_epochs={EPOCHS}",
    "trainer.check_val_every_n_epoch=1",
    "trainer.log_every_n_steps=1",
    f"callbacks.last_checkpoint.every_n_train_steps={EVERY}",
]
EPOCH_ENDS = [STEPS_PER_EPOCH * (e + 1) for e in range(EPOCHS)]
# the moments, as (kind, global step); their order in a run: at step g, first the validation after step g,
# then the checkpoint written at g, then the step that takes global_step from g to g + 1
MOMENTS = {
    "step": list(range(TOTAL)),
    "validation": EPOCH_ENDS,
    "checkpoint": sorted({g for g in range(EVERY, TOTAL + 1, EVERY)} | set(EPOCH_ENDS)),
}
ORDER = {"validation": 0, "checkpoint": 1, "step": 2}


def kill_moments(seed: int, count: int = 5) -> list[tuple[str, int]]:
    """``count`` distinct moments, one of each kind at least, in the order a run reaches them."""
    rng = random.Random(seed)
    chosen = {(kind, rng.choice(steps)) for kind, steps in MOMENTS.items()}
    everything = [(kind, g) for kind, steps in MOMENTS.items() for g in steps]
    while len(chosen) < count:
        chosen.add(rng.choice(everything))
    return sorted(chosen, key=lambda m: (m[1], ORDER[m[0]]))


def train(run_dir: Path, cwd: Path, *extra: str) -> int:
    result = run_script("train.py", [*RUN, f"hydra.run.dir={run_dir}", *extra], cwd, timeout=600)
    if result.returncode not in (0, -signal.SIGKILL):
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        pytest.fail(f"train.py failed ({result.returncode}):\n{output}")
    return result.returncode


def close(a: str | float | None, b: str | float | None) -> bool:
    """Equal to float64 precision (relative 1e-12 of the larger magnitude, or 1), or both empty."""
    if a in ("", None) or b in ("", None):
        return a in ("", None) and b in ("", None)
    x, y = float(a), float(b)
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)


def test_kill_moments_cover_each_kind_and_follow_the_run() -> None:
    moments = kill_moments(seed=3)
    assert len(set(moments)) == 5
    assert {kind for kind, _ in moments} == {"step", "validation", "checkpoint"}
    assert moments == sorted(moments, key=lambda m: (m[1], ORDER[m[0]]))
    assert kill_moments(seed=3) == moments and kill_moments(seed=4) != moments


@pytest.mark.slow
def test_sigkill_at_five_moments_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert train(reference, tmp_path) == 0

    for kind, at in kill_moments(seed=0):
        killer = [
            "+callbacks.kill._target_=tests.e2e._kill_at.KillAt",
            f"+callbacks.kill.kind={kind}",
            f"+callbacks.kill.at={at}",
        ]
        assert train(killed, tmp_path, "resume=auto", *killer) == -signal.SIGKILL, (kind, at)
        last = killed / "checkpoints" / "last.ckpt"
        if last.exists():  # never half-written: it loads (the kill mid-write hit a temporary file)
            assert torch.load(last, weights_only=False)["global_step"] <= at
    assert train(killed, tmp_path, "resume=auto") == 0

    want = torch.load(reference / "checkpoints" / "last.ckpt", weights_only=False)
    got = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=False)
    assert got["global_step"] == want["global_step"] == TOTAL
    for name, value in want["state_dict"].items():
        torch.testing.assert_close(got["state_dict"][name], value, rtol=1e-12, atol=1e-14, msg=name)

    want_status = json.loads((reference / "status.json").read_text())
    got_status = json.loads((killed / "status.json").read_text())
    assert got_status["status"] == want_status["status"] == "completed"
    assert set(got_status["metrics"]) == set(want_status["metrics"])
    for key, value in want_status["metrics"].items():
        assert close(got_status["metrics"][key], value), (key, got_status["metrics"][key], value)

    # the CSV history: every row once, none lost, same values
    want_rows = list(csv.DictReader((reference / "csv" / "metrics.csv").open(newline="")))
    got_rows = list(csv.DictReader((killed / "csv" / "metrics.csv").open(newline="")))
    assert [r["step"] for r in got_rows] == [r["step"] for r in want_rows]
    assert len(want_rows) == TOTAL + EPOCHS + 1  # a train row per step, a val row per epoch, the test row
    for want_row, got_row in zip(want_rows, got_rows, strict=True):
        for key, value in want_row.items():
            assert close(got_row[key], value), (want_row["step"], key, got_row[key], value)
    assert not list(killed.glob("checkpoints/.*.tmp"))  # the resumed run removed the torn temporary file
