"""DDP (2 CPU processes) in a Hydra multirun: the val/test metrics on odd-sized sets equal a single process's
(a graph classifier and an interatomic potential), and each job keeps one run folder with one W&B run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from .conftest import run_script

# learning rate 0: both jobs evaluate the same (initial) weights, so their metrics must agree exactly;
# 7 validation and 9 test graphs: 4 + 3 and 5 + 4 per rank, where DistributedSampler would pad to 8 and 10
RUN = [
    "-m",
    "experiment=tetris",
    "trainer=default,ddp_cpu",
    "float64=true",
    "model.optimizer.lr=0.0",
    "data.train_size=8",
    "data.val_size=7",
    "data.test_size=9",
    "data.batch_size=4",
    "trainer.max_epochs=1",
    "trainer.check_val_every_n_epoch=1",
    "callbacks.equivariance=null",
    "callbacks.rich_progress_bar=null",
    "callbacks.timing=null",
]


# the potential: 7 validation and 5 test structures of a tiny emt_cu, float64, learning rate 0
POTENTIAL_RUN = [
    "-m",
    "experiment=emt_cu",
    "trainer=default,ddp_cpu",
    "float64=true",
    "model.optimizer.lr=0.0",
    "data.file_path.supercells=[[1,1,1],[2,1,1]]",
    "data.file_path.rattle_frames=12",
    "data.file_path.md_frames=1",
    "data.file_path.vacancy_frames=1",
    "data.train=6",
    "data.val=7",
    "data.test=5",
    "data.batch_size=2",
    "model.net.num_layers=1",
    "model.net.num_features=4",
    "model.net.radial_hidden=8",
    "trainer.max_epochs=1",
    "logger=csv",
    "callbacks.potential_equivariance=null",
    "callbacks.force_conservation=null",
    "callbacks.rich_progress_bar=null",
    "callbacks.timing=null",
]


@pytest.mark.slow
def test_ddp_potential_metrics_equal_a_single_process(tmp_path: Path) -> None:
    args = [*POTENTIAL_RUN, f"paths.data_dir={tmp_path / 'data'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = run_script("train.py", args, tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    single, ddp = (json.loads((tmp_path / "sweep" / job / "status.json").read_text()) for job in "01")
    keys = [k for k in single["metrics"] if k.startswith(("val/", "test/"))]
    assert {"val/loss", "val/forces_mae_mev_per_a", "test/loss", "test/energy_mae_mev_per_atom"} <= set(keys)
    for key in keys:
        assert math.isclose(ddp["metrics"][key], single["metrics"][key], rel_tol=1e-12), key


@pytest.mark.slow
def test_ddp_metrics_equal_a_single_process_and_each_job_has_one_folder_and_one_wandb_run(
    tmp_path: Path,
) -> None:
    result = run_script("train.py", [*RUN, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no stray run folder of another rank
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]  # the sweep's two jobs, nothing else
    single, ddp = (json.loads((job / "status.json").read_text()) for job in jobs)
    assert single["status"] == ddp["status"] == "completed"
    assert (jobs[1] / "train_rank1.log").exists()  # rank 1 ran in job 1's folder

    keys = [k for k in single["metrics"] if k.startswith(("val/", "test/"))]
    assert {"val/loss", "val/acc", "test/loss", "test/acc"} <= set(keys)
    for key in keys:
        assert math.isclose(ddp["metrics"][key], single["metrics"][key], rel_tol=1e-12), key

    run_ids = []
    for job in jobs:  # one W&B run per job, started by rank zero only
        (offline,) = job.glob("wandb/offline-run-*")
        run_ids.append(json.loads((job / "wandb_run.json").read_text())["id"])
        assert offline.name.endswith(run_ids[-1])
    assert run_ids[0] != run_ids[1]
