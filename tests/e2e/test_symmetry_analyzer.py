"""``python -m e3lab.symmetry``: the report of an experiment, and training with the input it proposes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from e3lab.analyze import analyze_config, breaker_overrides, compose_train_config, main
from e3lab.train import run

from .conftest import compose_config

# a smaller shapes task than the preset (lmax 3, 4 steps per epoch): the same groups and proposal
SMALL = ["data.lmax=3", "data.steps_per_epoch=4"]


@pytest.mark.slow
def test_cli_prints_the_square_to_rect_report(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "e3lab.symmetry", "experiment=square_to_rect"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for expected in ("input group:  D4h: 16 elements", "target group: D2h: 8 elements", "global 2e = ["):
        assert expected in out, out
    assert "python train.py experiment=square_to_rect 'data.breaker_irreps=1x2e'" in out
    assert "'data.irreps_in=1x0e+1x2e'" in out


@pytest.mark.slow
def test_training_with_the_proposed_input_reaches_the_target(tmp_path: Path) -> None:
    """square_to_rect plus the analyzer's proposal trains to < 1% of the all-zero output's loss."""
    base = ["experiment=square_to_rect", *SMALL]
    cfg = compose_train_config(base)
    report = analyze_config(cfg)
    assert not report.reachable
    overrides = breaker_overrides(cfg, report)
    assert overrides[0] == "data.breaker_irreps=1x2e"
    run_cfg = compose_config(
        "train",
        [*base, *overrides, "trainer.max_epochs=25", "logger=csv", "callbacks.rich_progress_bar=null"],
        tmp_path,
    )
    run(run_cfg)
    metrics = json.loads((tmp_path / "status.json").read_text())["metrics"]
    # measured: 7e-5 of the all-zero output's loss after these 100 steps; without the input the floor is 0.625
    assert metrics["test/loss"] < 0.01 * metrics["symmetry/zero_output_loss"], metrics
    assert metrics["test/displacement_error"] < 0.02, metrics
    assert metrics["symmetry/loss_floor"] < 1e-12
    logged = json.loads((tmp_path / "symmetry_report.json").read_text())
    assert logged["reachable"] and logged["proposals"] == []


def test_breaker_overrides_extend_an_existing_breaker() -> None:
    cfg = compose_train_config(["experiment=square_to_rect_broken", "data.lmax=2"])
    report = analyze_config(cfg)
    assert report.reachable and breaker_overrides(cfg, report) is None  # the tutorial's breaker does it
    # a vector along z on every node leaves C4v, whose intersection with the target's D2h is C2v
    along_z = ["data.breaker_irreps=1x1o", "data.breaker_values=[0,0,0.1]", "data.irreps_in=1x0e+1x1o"]
    cfg = compose_train_config(["experiment=square_to_rect", "data.lmax=2", *along_z])
    report = analyze_config(cfg)
    assert (report.input_group.name, report.target_group.name) == ("C4v", "C2v")
    irreps, values, irreps_in = breaker_overrides(cfg, report)
    assert (irreps, irreps_in) == ("data.breaker_irreps=1x1o+1x2e", "data.irreps_in=1x0e+1x1o+1x2e")
    assert values.startswith("data.breaker_values=[0,0,0.1,") and values.count(",") == 7


def test_cli_without_a_feature_target_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """tetris's targets are class indices: a clear message and exit status 1, no traceback."""
    assert main(["experiment=tetris"]) == 1
    err = capsys.readouterr().err
    assert "TetrisDataModule's batches have no node_target or float graph_target" in err
