"""scripts/report.py on a potential run: MAE table, learning curves, parity plots, symmetry errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from e3lab.train import run

from .conftest import compose_config, run_script

# a tiny emt_cu: a few small generated cells, a 1-layer backbone of 4 features, 2 epochs
TINY_EMT_CU = [
    "experiment=emt_cu",
    "data.file_path.supercells=[[1,1,1],[2,1,1]]",
    "data.file_path.rattle_frames=4",
    "data.file_path.md_frames=1",
    "data.file_path.md_interval=2",
    "data.file_path.vacancy_frames=2",
    "data.train=6",
    "data.val=2",
    "data.test=null",
    "data.batch_size=2",
    "model.net.num_layers=1",
    "model.net.num_features=4",
    "model.net.radial_hidden=8",
    "trainer.max_epochs=2",
    "logger=csv",
    "trainer.log_every_n_steps=1",
    "callbacks.timing.every_n_steps=2",
    "callbacks.rich_progress_bar=null",
]


@pytest.mark.slow
def test_report_of_a_potential_run(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "experiments"
    run_dir = runs / "emt_cu"
    run(compose_config("train", [*TINY_EMT_CU, f"paths.data_dir={tmp_path / 'data'}"], run_dir))
    with (run_dir / "csv" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    validation = [r for r in rows if r.get("val/forces_mae_mev_per_a")]
    assert len(validation) == 2 and all(float(r["time/elapsed_s"]) > 0 for r in validation)

    args = ["emt_cu", "--no-run", "--runs-dir", str(runs), "--out-dir", str(out)]
    result = run_script("scripts/report.py", args, tmp_path, timeout=600)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = out / "emt_cu"
    readme = (report / "README.md").read_text()
    assert "python train.py experiment=emt_cu" in readme
    for key in (
        "test/energy_mae_mev_per_atom",
        "test/forces_mae_mev_per_a",
        "equivariance/forces_rel_error",
        "equivariance/lattice_shift_rel_error",
        "physics/force_fd_rel_error",
        "training time per step",
    ):
        assert f"| {key}" in readme, key
    for figure in ("loss.png", "learning_curves.png", "parity.png", "timing.png"):
        assert (report / figure).stat().st_size > 1000, figure
        assert f"![{figure}]({figure})" in readme
    assert "double backward" in readme  # the timing caption of a force step
    results = json.loads((report / "results.json").read_text())
    metrics = results["metrics"]
    assert metrics["equivariance/max_rel_error"] < 1e-9 and metrics["physics/force_fd_rel_error"] < 1e-6
    assert results["pass"] == (metrics["test/forces_mae_mev_per_a"] < 50.0)  # the claim, computed
    assert "[emt_cu](emt_cu/README.md)" in (out / "README.md").read_text()
