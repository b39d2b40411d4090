"""A run resumed into its own directory keeps the earlier rows of its CSV metrics history."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from e3lab.train import run

from .conftest import TINY_SHAPES, compose_config

TINY = [
    "experiment=rect_to_square",
    "logger=csv",
    "callbacks.equivariance=null",
    "callbacks.rich_progress_bar=null",
    *TINY_SHAPES,
    "trainer.check_val_every_n_epoch=1",
    "trainer.log_every_n_steps=1",
    "test=false",
]


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def _val_epochs(rows: list[dict[str, str]]) -> list[int]:
    return sorted(int(float(r["epoch"])) for r in rows if r.get("val/loss"))


@pytest.mark.slow
def test_resume_auto_appends_to_metrics_csv(tmp_path: Path) -> None:
    run(compose_config("train", [*TINY, "trainer.max_epochs=2"], tmp_path))
    first = _rows(tmp_path)
    assert _val_epochs(first) == [0, 1]
    run(compose_config("train", [*TINY, "trainer.max_epochs=4", "resume=auto"], tmp_path))
    both = _rows(tmp_path)
    assert _val_epochs(both) == [0, 1, 2, 3]  # the rows of the first part are still there
    assert [r["step"] for r in both[: len(first)]] == [r["step"] for r in first]
    assert len(both) > len(first)


@pytest.mark.slow
def test_a_fresh_run_in_the_same_directory_starts_a_new_history(tmp_path: Path) -> None:
    run(compose_config("train", [*TINY, "trainer.max_epochs=2"], tmp_path))
    run(compose_config("train", [*TINY, "trainer.max_epochs=1"], tmp_path))
    assert _val_epochs(_rows(tmp_path)) == [0]
