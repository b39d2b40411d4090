"""Resuming reproduces an uninterrupted run; eval.py on the checkpoint reproduces train.py's test metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e3lab.eval import evaluate
from e3lab.train import run

from .conftest import TINY_SHAPES, compose_config

SHAPES = [
    "experiment=rect_to_square",
    "logger=csv",
    "callbacks.equivariance=null",
    "callbacks.rich_progress_bar=null",
]
FOUR_EPOCHS = [*SHAPES, *TINY_SHAPES, "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=1"]


def _metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "status.json").read_text())["metrics"]


@pytest.mark.slow
def test_resume_matches_uninterrupted_and_eval_matches_test(tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(compose_config("train", FOUR_EPOCHS, straight))
    # the same run, stopped after 2 epochs and resumed from its last.ckpt by resume=auto
    run(compose_config("train", [*FOUR_EPOCHS, "trainer.max_epochs=2", "test=false"], resumed))
    assert (resumed / "checkpoints" / "last.ckpt").is_file()
    run(compose_config("train", [*FOUR_EPOCHS, "resume=auto"], resumed))
    a, b = _metrics(straight), _metrics(resumed)
    assert a["test/loss"] == pytest.approx(b["test/loss"], rel=1e-9, abs=1e-15)
    assert a["val/loss"] == pytest.approx(b["val/loss"], rel=1e-9, abs=1e-15)

    # eval.py rebuilds the model from the checkpoint and the data from the run's saved config
    ckpt = straight / "checkpoints" / "last.ckpt"
    metrics = evaluate(compose_config("eval", [f"ckpt_path={ckpt}", "logger=none"], tmp_path / "eval"))
    assert metrics["test/loss"] == pytest.approx(a["test/loss"], rel=1e-9, abs=1e-15)
    assert metrics["test/displacement_error"] == pytest.approx(
        a["test/displacement_error"], rel=1e-6, abs=1e-9
    )


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    cfg = compose_config("eval", ["ckpt_path=nowhere/last.ckpt", "logger=none"], tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ckpt_path='nowhere/last.ckpt' does not exist"):
        evaluate(cfg)
    cfg = compose_config("train", ["ckpt_path=nowhere/last.ckpt", "logger=none", *TINY_SHAPES], tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run(cfg)


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path: Path) -> None:
    from e3lab._run import resolve_ckpt_path

    assert resolve_ckpt_path(None, "auto", str(tmp_path)) is None
    (tmp_path / "last.ckpt").write_bytes(b"")
    assert resolve_ckpt_path(None, "auto", str(tmp_path)) == str(tmp_path / "last.ckpt")
    assert resolve_ckpt_path(None, None, str(tmp_path)) is None
    with pytest.raises(ValueError, match="resume='yes'"):
        resolve_ckpt_path(None, "yes", str(tmp_path))
