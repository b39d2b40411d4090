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
}


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
