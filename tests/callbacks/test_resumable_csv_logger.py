"""ResumableCSVLogger: rows on disk at once, a torn last line dropped, and no step twice after a resume."""

from __future__ import annotations

import csv
from pathlib import Path

from e3lab.callbacks import ResumableCSVLogger
from e3lab.callbacks._resumable_csv_logger import read_metrics_rows


def _logger(tmp_path: Path, append: bool) -> ResumableCSVLogger:
    return ResumableCSVLogger(save_dir=tmp_path, name="csv", version="", append=append)


def _steps(tmp_path: Path) -> list[str]:
    with (tmp_path / "csv" / "metrics.csv").open(newline="") as file:
        return [row["step"] for row in csv.DictReader(file)]


def test_every_row_is_on_disk_as_soon_as_it_is_logged(tmp_path: Path) -> None:
    logger = _logger(tmp_path, append=False)
    logger.log_metrics({"train/loss": 1.0}, step=0)
    assert _steps(tmp_path) == ["0"]  # Lightning's CSVLogger keeps 100 steps in memory
    logger.log_metrics({"train/loss": 0.5, "val/loss": 0.7}, step=1)  # a new column: rewritten whole
    assert _steps(tmp_path) == ["0", "1"]
    assert not list((tmp_path / "csv").glob(".*.tmp"))


def test_a_resumed_run_replaces_the_rows_after_its_checkpoint_and_drops_a_torn_line(tmp_path: Path) -> None:
    first = _logger(tmp_path, append=False)
    for step in range(6):
        first.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    path = tmp_path / "csv" / "metrics.csv"
    with path.open("a") as file:  # killed in the middle of an append
        file.write("0.1428")

    header, rows = read_metrics_rows(path)
    assert header == ["step", "train/loss"] and [r["step"] for r in rows] == ["0", "1", "2", "3", "4", "5"]

    resumed = _logger(tmp_path, append=True)  # the checkpoint was at step 4: the run logs 4 and 5 again
    resumed.log_metrics({"train/loss": 0.2}, step=4)
    resumed.log_metrics({"train/loss": 1 / 6}, step=5)
    resumed.log_metrics({"train/loss": 1 / 7, "val/loss": 0.3}, step=6)
    assert _steps(tmp_path) == ["0", "1", "2", "3", "4", "5", "6"]
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows[4]["train/loss"] == "0.2" and rows[6]["val/loss"] == "0.3"


def test_a_fresh_run_starts_a_new_file(tmp_path: Path) -> None:
    _logger(tmp_path, append=False).log_metrics({"a": 1.0}, step=0)
    _logger(tmp_path, append=False).log_metrics({"a": 2.0}, step=3)
    assert _steps(tmp_path) == ["3"]
