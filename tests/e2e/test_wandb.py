"""The W&B offline run of a short training run holds the callbacks' equivariance and timing metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e3lab.train import run

from .conftest import TINY_SHAPES, compose_config


def _records(run_file: Path) -> list[bytes]:
    """The records of a W&B ``.wandb`` file: a 7-byte header, then a LevelDB-style log of 32 KiB blocks
    whose chunks carry a 7-byte header (crc32, little-endian length, type: 1 full, 2 first, 3 middle, 4 last).
    """
    data = run_file.read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    records, pending, offset, block = [], b"", 7, 32768
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # the rest of a block too short for a header is padding
            offset += block - offset % block
            continue
        length = int.from_bytes(data[offset + 4 : offset + 6], "little")
        kind = data[offset + 6]
        chunk = data[offset + 7 : offset + 7 + length]
        offset += 7 + length
        if kind == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            records.append(pending)
    return records


def _logged_keys(run_file: Path) -> set[str]:
    """Metric keys of the history records, and ``config:<key>`` for the config entries."""
    from wandb.proto import wandb_internal_pb2

    keys: set[str] = set()
    for data in _records(run_file):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") == "history":
            keys.update(item.key or "/".join(item.nested_key) for item in record.history.item)
        elif record.WhichOneof("record_type") == "config":
            keys.update(f"config:{item.key}" for item in record.config.update)
    return keys


@pytest.mark.slow
def test_wandb_run_has_equivariance_and_timing(tmp_path: Path) -> None:
    overrides = [
        "experiment=square_to_rect",
        *TINY_SHAPES,
        "logger=wandb",
        "callbacks.timing.every_n_steps=1",
        "trainer.log_every_n_steps=1",
        "trainer.check_val_every_n_epoch=1",
    ]
    run(compose_config("train", overrides, tmp_path))
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    keys = _logged_keys(run_file)
    assert any(k.startswith("equivariance/") for k in keys), " ".join(sorted(keys))
    assert any(k.startswith("timing/") for k in keys), sorted(keys)
    assert {"train/loss", "symmetry/loss_floor"} <= keys
    # the full resolved config is set: experiment name, data and model sections
    assert {"config:name", "config:data", "config:model"} <= keys
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"


def _complete_records(run_file: Path, timeout: float = 60.0) -> list[bytes]:
    """The records of ``run_file`` once W&B's service has written its exit record (it may still be
    writing when ``wandb.finish`` returns)."""
    import time

    from wandb.proto import wandb_internal_pb2

    deadline = time.monotonic() + timeout
    while True:
        records = _records(run_file)
        kinds = set()
        for data in records:
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            kinds.add(record.WhichOneof("record_type"))
        if "exit" in kinds or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def _history_steps(run_file: Path, key: str) -> list[int]:
    """``trainer/global_step`` of the history rows of ``run_file`` that log ``key``."""
    from wandb.proto import wandb_internal_pb2

    steps = []
    for data in _complete_records(run_file):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") != "history":
            continue
        items = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
        if key in items:
            steps.append(int(float(items["trainer/global_step"])))
    return steps


@pytest.mark.slow
def test_a_resumed_run_continues_its_wandb_run_without_gap_or_repeat(tmp_path: Path) -> None:
    from omegaconf import open_dict

    overrides = [
        "experiment=rect_to_square",
        *TINY_SHAPES,
        "logger=wandb",
        "callbacks.equivariance=null",
        "callbacks.rich_progress_bar=null",
        "trainer.max_epochs=3",
        "trainer.log_every_n_steps=1",
        "test=false",
    ]
    cfg = compose_config("train", overrides, tmp_path)
    with open_dict(cfg):  # SIGTERM at step 3 of 6: saved, stopped, "interrupted"
        cfg.callbacks.sigterm = {"_target_": "tests.e2e.test_interrupted_run.SignalAtStep", "step": 3}
    run(cfg)
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "interrupted"
    run(compose_config("train", [*overrides, "resume=auto"], tmp_path))
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"

    run_id = json.loads((tmp_path / "wandb_run.json").read_text())["id"]
    files = sorted(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 2 and all(f.name == f"run-{run_id}.wandb" for f in files)  # one W&B run, twice
    steps = [_history_steps(f, "train/loss") for f in files]
    assert steps == [[0, 1, 2, 3], [4, 5]], steps  # every step once, no gap
