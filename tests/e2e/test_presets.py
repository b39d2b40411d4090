"""Every experiment preset in conf/experiment/ runs with debug=fast_dev_run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e3lab.train import run

from .conftest import CONF_DIR, compose_config

PRESETS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
# keep the runs small; every other setting is the preset's own
SHRINK = {
    "random_clouds": ["data.num_nodes=40", "data.train_size=1", "data.val_size=1", "data.test_size=1"],
    "tetris": ["data.train_size=8", "data.val_size=8", "data.test_size=8", "data.batch_size=8"],
    # potentials: a few small generated cells (its own small cache entry) and a one-layer backbone
    "emt_cu": [
        "data.file_path.supercells=[[1,1,1],[2,1,1]]",
        "data.file_path.rattle_frames=4",
        "data.file_path.md_frames=1",
        "data.file_path.vacancy_frames=2",
        "model.net.num_layers=1",
        "model.net.num_features=4",
    ],
    "emt_alloy": [
        "data.file_path.supercells=[[1,1,1]]",
        "data.file_path.rattle_frames=6",
        "data.file_path.md_frames=1",
        "data.file_path.vacancy_frames=2",
        "data.file_path.surface_frames=2",
        "data.file_path.surface_size=[1,1,3]",
        "model.net.num_layers=1",
        "model.net.num_features=4",
    ],
}
TINY_STEPS = ["data.lmax=2", "data.steps_per_epoch=2", "model.net.radial_hidden=8"]


def test_presets_are_found() -> None:
    assert {"rect_to_square", "square_to_rect", "square_to_rect_broken", "tetris", "random_clouds"} <= set(
        PRESETS
    )


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_fast_dev_run(preset: str, tmp_path: Path) -> None:
    overrides = [f"experiment={preset}", "debug=fast_dev_run", "logger=none", *SHRINK.get(preset, [])]
    cfg = compose_config("train", overrides, tmp_path)
    assert cfg.name == preset
    run(cfg)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed"
    assert any(key.startswith("test/") for key in status["metrics"])


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["square_to_rect_broken", "tetris"])
def test_preset_tests_from_its_checkpoint(preset: str, tmp_path: Path) -> None:
    """The test step reloads a checkpoint with torch.load(weights_only=True): the saved hparams of the
    model and the DataModule (list-valued settings such as breaker_values included) must be plain types."""
    overrides = [
        f"experiment={preset}",
        "logger=none",
        "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1",
        "test_ckpt=last",
        *SHRINK.get(preset, TINY_STEPS),
    ]
    run(compose_config("train", overrides, tmp_path))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed", status.get("error")
    assert status["last checkpoint"].endswith("last.ckpt")
    assert any(key.startswith("test/") for key in status["metrics"])
