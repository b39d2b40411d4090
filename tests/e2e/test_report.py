"""scripts/report.py turns a finished run into experiments/<name>/ (README, results, figures) and an index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e3lab.train import run

from .conftest import TINY_SHAPES, compose_config, run_script


@pytest.mark.slow
def test_report_of_a_finished_run(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "experiments"
    overrides = [
        "experiment=rect_to_square",
        *TINY_SHAPES,
        "logger=csv",
        "trainer.log_every_n_steps=1",
        "callbacks.timing.every_n_steps=1",
        "callbacks.equivariance=null",
        "callbacks.rich_progress_bar=null",
    ]
    run(compose_config("train", overrides, runs / "rect_to_square"))
    args = ["rect_to_square", "--no-run", "--runs-dir", str(runs), "--out-dir", str(out)]
    result = run_script("scripts/report.py", args, tmp_path)
    # a 4-step run does not reach the target: the report says FAIL and the script exits 1
    assert result.returncode == 1, result.stderr[-3000:]
    report = out / "rect_to_square"
    readme = (report / "README.md").read_text()
    assert "python train.py experiment=rect_to_square" in readme
    assert "**Result: FAIL.**" in readme
    # the symmetry-report callback's analysis, read from the run directory
    assert "python -m e3lab.symmetry experiment=rect_to_square" in readme
    assert "The target keeps all of the input's symmetry (D2h)" in readme
    for figure in ("loss.png", "task.png", "signals.png", "timing.png"):
        assert (report / figure).stat().st_size > 1000, figure
        assert f"![{figure}]({figure})" in readme
    results = json.loads((report / "results.json").read_text())
    assert results["pass"] is False and results["wall_s"] is None
    assert results["metrics"]["test/loss"] > 0
    index = (out / "README.md").read_text()
    assert "[rect_to_square](rect_to_square/README.md)" in index
