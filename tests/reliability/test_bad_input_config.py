"""Bad configs and failing runs through e3lab's training entry point: clear errors, no lost checkpoints.

The configs are composed in-process exactly as ``python train.py <overrides>`` would compose them, and run
with ``e3lab.train.run`` (the body of the Hydra main). Each case is a row of ``docs/bad_input.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, InstantiationException, MissingConfigException
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from e3lab.callbacks import NonFiniteLossError
from e3lab.models import SignalRegressionModule
from e3lab.train import run

from ._helpers import TINY, compose_train

EXPERIMENTS = ("random_clouds", "rect_to_square", "square_to_rect", "square_to_rect_broken", "tetris")


def test_unknown_experiment_lists_the_available_ones() -> None:
    with pytest.raises(MissingConfigException) as info:
        compose_train(["experiment=rect_to_sqare"])
    message = str(info.value)
    assert "Could not find 'experiment/rect_to_sqare'" in message
    assert "Available options in 'experiment'" in message
    for name in EXPERIMENTS:
        assert name in message


def test_unknown_config_group_option_lists_the_available_ones() -> None:
    with pytest.raises(MissingConfigException, match=r"Could not find 'data/shapez'") as info:
        compose_train(["data=shapez"])
    assert "tetris" in str(info.value) and "random_clouds" in str(info.value)


@pytest.mark.parametrize("override", ["trainer.max_epoch=3", "model.net.radial_hiden=8", "dat=shapes"])
def test_unknown_key_is_named_with_the_fix(override: str) -> None:
    key, value = override.split("=")
    with pytest.raises(ConfigCompositionException) as info:
        compose_train([override])
    message = str(info.value)
    assert f"Could not override '{key}'" in message
    assert f"+{key}={value}" in message  # how to add a key on purpose


def test_appended_mistyped_key_is_named_at_instantiation(tmp_path: Path) -> None:
    cfg = compose_train([*TINY, "+model.net.radial_hiden=8"], tmp_path)
    with pytest.raises(InstantiationException, match=r"unexpected keyword argument 'radial_hiden'"):
        run(cfg)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "failed" and "radial_hiden" in status["error"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.net.radial_basis=cosin", r"basis='cosin' is not a valid basis: choose one of gaussian"),
        ("model.net.irreps_hidden=4x0e+2x1q", r"invalid parity 'q' in '4x0e\+2x1q'"),
        ("model.net.max_radius=0", r"max_radius=0 must be > 0"),
        ("data.start=circle", r"start='circle' is not a shape; choose one of \['square', 'rectangle'\]"),
        ("data.batch_size=0", r"batch_size=0 must be >= 1"),
        ("data.rect_sx=abc", r"rect_sx='abc' must be a finite number"),
        ("data.rect_sy=nan", r"rect_sy=nan must be a finite number"),
    ],
)
def test_bad_config_values_are_named(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(InstantiationException, match=message):
        run(compose_train([*TINY, override], tmp_path))


def test_model_irreps_that_do_not_match_the_data_fail_at_start_up(tmp_path: Path) -> None:
    cfg = compose_train([*TINY, "model.net.irreps_in=2x0e"], tmp_path)
    with pytest.raises(ValueError, match=r"model irreps_in=2x0e does not match the data's irreps_in=1x0e"):
        run(cfg)
    assert not (tmp_path / "checkpoints").exists()  # nothing was trained


def test_missing_checkpoint_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "last.ckpt"
    cfg = compose_train([*TINY, f"ckpt_path={missing}"], tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"ckpt_path='{missing}' does not exist.*pass the path"):
        run(cfg)


@pytest.mark.slow
def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loss turns NaN at step 5 (epoch 2): the run stops naming the step before the optimiser applies it.

    last.ckpt holds the weights of step 5 (the last finite ones); best.ckpt from epoch 1 is kept.
    """
    original = SignalRegressionModule.training_step

    def nan_from_step_5(self: SignalRegressionModule, batch: object, batch_idx: int) -> torch.Tensor:
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if self.global_step >= 5 else loss

    monkeypatch.setattr(SignalRegressionModule, "training_step", nan_from_step_5)
    overrides = [*TINY, "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=1"]
    with pytest.raises(NonFiniteLossError, match=r"training loss became nan at global step 5 \(epoch 2"):
        run(compose_train(overrides, tmp_path))
    for name, step in (("last.ckpt", 5), ("best.ckpt", 4)):
        saved = torch.load(tmp_path / "checkpoints" / name, weights_only=True)
        assert saved["global_step"] == step
        assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_wandb_failing_to_start_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setattr(wandb, "init", unreachable)
    overrides = [*TINY, "logger=default", "test=false"]
    with pytest.warns(UserWarning, match=r"W&B failed to start .*unreachable.*continuing with the local"):
        run(compose_train(overrides, tmp_path))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed"
    assert "train/loss" in (tmp_path / "csv" / "metrics.csv").read_text()


@pytest.mark.slow
def test_mistyped_monitor_is_named_at_the_first_validation(tmp_path: Path) -> None:
    overrides = [*TINY, "monitor=val/los", "trainer.check_val_every_n_epoch=1"]
    with pytest.raises(MisconfigurationException, match=r"monitor='val/los'\)` could not find .*'val/loss'"):
        run(compose_train(overrides, tmp_path))


@pytest.mark.slow
def test_wandb_failing_to_write_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: WandbLogger, *args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(WandbLogger, "log_metrics", disk_full)
    overrides = [*TINY, "logger=default", "test=false"]
    with pytest.warns(UserWarning, match=r"W&B failed to write \(log_metrics: OSError.*local loggers"):
        run(compose_train(overrides, tmp_path))
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"
    assert "train/loss" in (tmp_path / "csv" / "metrics.csv").read_text()


@pytest.mark.slow
def test_nan_loss_with_sparse_validation_still_leaves_a_resumable_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rect_to_square validates every 10 epochs, so no monitored save happens before the NaN at step 5:
    the guard writes last.ckpt itself (weights after step 5, all finite), and resume=auto continues."""
    original = SignalRegressionModule.training_step

    def nan_at_step_5(self: SignalRegressionModule, batch: object, batch_idx: int) -> torch.Tensor:
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if self.global_step == 5 else loss

    monkeypatch.setattr(SignalRegressionModule, "training_step", nan_at_step_5)
    overrides = [*TINY, "trainer.max_epochs=4", "test=false"]
    with pytest.raises(NonFiniteLossError, match=r"last saved: .*last.ckpt"):
        run(compose_train(overrides, tmp_path))
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 5
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())
    monkeypatch.undo()
    run(compose_train([*overrides, "resume=auto"], tmp_path))  # redoes step 5, then runs to the end
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed"
    assert torch.load(status["last checkpoint"], weights_only=True)["global_step"] == 8
