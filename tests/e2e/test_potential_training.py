"""train.py on a tiny emt_cu: the force error falls by training; the checkpoint alone rebuilds the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from e3lab.models import InteratomicPotential
from e3lab.train import run

from .conftest import compose_config

TINY_EMT_CU = [
    "experiment=emt_cu",
    "data.file_path.supercells=[[1,1,1],[2,1,1]]",
    "data.file_path.rattle_frames=8",
    "data.file_path.md_frames=1",
    "data.file_path.vacancy_frames=2",
    "data.train=10",
    "data.val=3",
    "data.test=null",
    "data.batch_size=2",
    "model.net.num_layers=2",
    "model.net.num_features=8",
    "model.net.radial_hidden=16",
    "model.optimizer.lr=0.01",
    "trainer.max_epochs=6",
    "logger=csv",
    "callbacks.potential_equivariance=null",
    "callbacks.force_conservation=null",
    "callbacks.timing=null",
    "callbacks.rich_progress_bar=null",
    "num_threads=1",
]


@pytest.mark.slow
def test_training_lowers_the_force_error_and_the_checkpoint_rebuilds_the_model(tmp_path: Path) -> None:
    run(compose_config("train", TINY_EMT_CU, tmp_path))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed", status.get("error")
    with (tmp_path / "csv" / "metrics.csv").open() as f:
        curve = [
            float(r["val/forces_mae_mev_per_a"]) for r in csv.DictReader(f) if r["val/forces_mae_mev_per_a"]
        ]
    assert len(curve) == 6 and curve[-1] < 0.6 * curve[0], curve
    assert (
        status["metrics"]["test/forces_mae_mev_per_a"] > 0
        and "test/energy_mae_mev_per_atom" in status["metrics"]
    )

    best = status["best checkpoint"]
    assert torch.load(best, weights_only=True)["hyper_parameters"]["net"]["_target_"] == "e3lab.nn.NequIPNet"
    model = InteratomicPotential.load_from_checkpoint(best).eval()  # no config beside it
    assert model.chemical_symbols == ["Cu"] and model.ema is not None
