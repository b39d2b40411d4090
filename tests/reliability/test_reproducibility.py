"""Reproducibility: the same seed and config give the same training losses on CPU, and validation metrics do
not depend on the validation batch size."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from e3lab.train import run

from ._helpers import TINY, compose_train

# tetris with augmentation (fresh random rotations every step, shuffled batches) and a small network
TINY_TETRIS = [
    "experiment=tetris",
    "data.train_size=16",
    "data.batch_size=8",
    "model.net.irreps_hidden=4x0e+4x0o+2x1e+2x1o",
    "model.net.radial_hidden=8",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "data.val_size=8",
    "logger=csv",
    "callbacks.rich_progress_bar=null",
    "+trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "test=false",
]


def train_losses(overrides: list[str], run_dir: Path) -> list[float]:
    """Run training and return the per-step ``train/loss`` column of the CSV log."""
    run(compose_train(overrides, run_dir))
    with (run_dir / "csv" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    losses = [float(row["train/loss"]) for row in rows if row.get("train/loss")]
    assert losses, "no training loss was logged"
    return losses


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [[*TINY, "test=false"], TINY_TETRIS], ids=["shapes_float64", "tetris"])
def test_same_seed_same_losses(tmp_path: Path, overrides: list[str]) -> None:
    first = train_losses([*overrides, "seed=3"], tmp_path / "a")
    second = train_losses([*overrides, "seed=3"], tmp_path / "b")
    other = train_losses([*overrides, "seed=4"], tmp_path / "c")
    assert first == second  # bit for bit
    assert first != other  # the seed matters, so the equality above is not vacuous


def validation_metrics(overrides: list[str], batch_size: int, state: dict[str, torch.Tensor]) -> dict:
    """``trainer.validate`` of the model with weights ``state`` at validation batch size ``batch_size``."""
    cfg = compose_train([*overrides, f"data.batch_size={batch_size}"])
    model = instantiate(cfg.model)
    model.load_state_dict(state)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (metrics,) = trainer.validate(model, datamodule=instantiate(cfg.data), verbose=False)
    return metrics


@pytest.mark.parametrize(
    ("overrides", "batch_sizes"),
    [
        (["experiment=tetris", "data.val_size=12", "model.net.radial_hidden=8"], [1, 5, 12]),
        (
            ["experiment=random_clouds", "data.num_nodes=40", "data.val_size=4", "data.density=4.0"],
            [1, 3, 4],
        ),
    ],
    ids=["graph_classification", "node_regression"],
)
def test_validation_metrics_do_not_depend_on_the_batch_size(
    float64: None, overrides: list[str], batch_sizes: list[int]
) -> None:
    """Uneven last batches included (12 = 5 + 5 + 2, 4 = 3 + 1)."""
    state = instantiate(compose_train(overrides).model).state_dict()
    results = [validation_metrics(overrides, size, state) for size in batch_sizes]
    assert set(results[0]) >= {"val/loss"}
    for other in results[1:]:
        assert other.keys() == results[0].keys()
        for key, value in results[0].items():
            assert other[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
