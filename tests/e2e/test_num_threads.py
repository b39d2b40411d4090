"""The ``num_threads`` config key sets torch's CPU thread count in train.py and eval.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from e3lab._run import set_num_threads
from e3lab.eval import evaluate
from e3lab.train import train

from .conftest import TINY_SHAPES, compose_config


@pytest.fixture
def _keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("_keep_threads")
def test_train_and_eval_apply_num_threads(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    overrides = ["logger=none", "callbacks=none", "debug=fast_dev_run", *TINY_SHAPES, "num_threads=1"]
    train(compose_config("train", overrides, tmp_path / "train"))
    assert torch.get_num_threads() == 1

    torch.set_num_threads(2)
    with pytest.raises(FileNotFoundError):  # num_threads is applied first, before the checkpoint is read
        evaluate(compose_config("eval", ["ckpt_path=nowhere.ckpt", "logger=none", "num_threads=1"], tmp_path))
    assert torch.get_num_threads() == 1


@pytest.mark.usefixtures("_keep_threads")
def test_null_keeps_the_default_and_bad_values_are_rejected() -> None:
    torch.set_num_threads(2)
    set_num_threads(None)
    assert torch.get_num_threads() == 2
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="num_threads="):
            set_num_threads(bad)
