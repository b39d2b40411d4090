"""atomic_write: a write that dies half-way leaves the old file whole; status.json goes through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e3lab._run import write_status
from e3lab.callbacks import atomic_write, atomic_write_text


def test_a_failed_write_keeps_the_previous_contents_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    atomic_write_text(path, '{"status": "completed"}')

    def half_then_crash(file) -> None:
        file.write(b'{"status": "inter')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert json.loads(path.read_text()) == {"status": "completed"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_write_status_replaces_the_file_atomically(tmp_path: Path, monkeypatch) -> None:
    writes = []
    monkeypatch.setattr(
        "e3lab._run._status_file.atomic_write_text", lambda p, t: writes.append(p) or atomic_write_text(p, t)
    )
    write_status(
        str(tmp_path), "interrupted", {"val/loss": float("nan"), "train/loss": 0.5}, signal="SIGUSR2"
    )
    assert writes == [tmp_path / "status.json"]
    status = json.loads((tmp_path / "status.json").read_text())
    assert status == {
        "status": "interrupted",
        "metrics": {"val/loss": None, "train/loss": 0.5},
        "signal": "SIGUSR2",
    }
