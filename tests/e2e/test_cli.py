"""The command line: unknown experiments and keys give errors that name the fix; a multirun survives a
crashing job; DDP on CPU writes one run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, TINY_SHAPES, run_script


@pytest.mark.slow
def test_unknown_experiment_lists_the_available_ones(tmp_path: Path) -> None:
    result = run_script("train.py", ["experiment=nope"], tmp_path)
    assert result.returncode != 0
    for name in ("rect_to_square", "square_to_rect", "square_to_rect_broken", "tetris", "random_clouds"):
        assert name in result.stderr


@pytest.mark.slow
def test_unknown_key_is_named(tmp_path: Path) -> None:
    result = run_script("train.py", ["trainer.max_epoch=3"], tmp_path)
    assert result.returncode != 0
    assert "max_epoch" in result.stderr


@pytest.mark.slow
def test_multirun_survives_a_crashing_job(tmp_path: Path) -> None:
    """Job 1 (negative learning rate) crashes; job 0 completes; each job has its own W&B run."""
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        "experiment=rect_to_square",
        *TINY_SHAPES,
        "model.optimizer.lr=0.01,-1",
        f"hydra.sweep.dir={sweep}",
    ]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((sweep / "0" / "status.json").read_text())["status"] == "completed"
    assert json.loads((sweep / "1" / "status.json").read_text())["status"] == "failed"
    assert len(list(sweep.glob("*/wandb/offline-run-*"))) == 2
    summary = run_script("scripts/summarize_sweep.py", [str(sweep)], tmp_path)
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    assert any(line.startswith("0 ") and "completed" in line for line in lines)
    assert any(line.startswith("1 ") and "failed" in line for line in lines)
    assert (sweep / "summary.png").is_file()


@pytest.mark.slow
def test_ddp_cpu_writes_one_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "outputs" / "ddp"
    args = ["experiment=rect_to_square", *TINY_SHAPES, "trainer=ddp_cpu", f"hydra.run.dir={run_dir}"]
    result = run_script("train.py", args, tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == ["ddp"]
    assert len(list(run_dir.glob("wandb/offline-run-*"))) == 1
    assert not (ROOT / "outputs" / "ddp").exists()
