"""Plain ``_target_`` configs: the backbone and optimizer builders of the models layer (no Hydra)."""

from __future__ import annotations

import datetime
import functools

import pytest
import torch

from e3lab.models import EquivariantTask, NodeRegressionModule
from e3lab.models._build import build, build_backbone, locate
from e3lab.nn import EquivariantConvNet, NequIPNet

NET = {"_target_": "e3lab.nn.EquivariantConvNet", "irreps_in": "2x0e", "irreps_out": "1x1o", "num_layers": 1}


def test_locate_and_build_nested_and_partial() -> None:
    assert locate("torch.optim.lr_scheduler.ReduceLROnPlateau") is torch.optim.lr_scheduler.ReduceLROnPlateau
    adam = build({"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01})
    assert isinstance(adam, functools.partial) and adam.keywords == {"lr": 0.01}
    nested = build({"_target_": "builtins.dict", "inner": [{"_target_": "datetime.timedelta", "seconds": 3}]})
    assert nested == {"inner": [datetime.timedelta(seconds=3)]}
    assert build({"plain": 3}) == {"plain": 3}


def test_backbones_are_built_from_their_config() -> None:
    assert isinstance(build_backbone(NET), EquivariantConvNet)
    nequip = build_backbone({"_target_": "e3lab.nn.NequIPNet", "irreps_in": "2x0e", "num_layers": 1})
    assert isinstance(nequip, NequIPNet) and str(nequip.irreps_out) == "1x0e"


def test_bad_configs_name_the_problem() -> None:
    with pytest.raises(TypeError, match="net must be a config with a _target_"):
        build_backbone({"irreps_in": "1x0e"})
    with pytest.raises(ValueError, match=r"cannot import _target_='e3lab\.nn\.NoSuchNet'"):
        build_backbone({**NET, "_target_": "e3lab.nn.NoSuchNet"})
    with pytest.raises(ValueError, match="dotted path"):
        locate("Adam")
    with pytest.raises(TypeError, match="not a backbone"):
        build_backbone({"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1})
    with pytest.raises(TypeError, match=r"building e3lab\.nn\.EquivariantConvNet"):
        build_backbone({**NET, "no_such_argument": 1})
    with pytest.raises(ValueError, match=r"\['_recursive_'\] are not supported"):
        build({**NET, "_recursive_": False})


def test_optimizer_and_scheduler_from_configs() -> None:
    model = NodeRegressionModule(
        NET,
        optimizer={"_target_": "torch.optim.SGD", "lr": 0.5},
        scheduler={"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "factor": 0.5},
    )
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.SGD) and config["optimizer"].defaults["lr"] == 0.5
    assert config["lr_scheduler"]["monitor"] == "val/loss"
    with pytest.raises(TypeError, match="optimizer must be a callable"):
        NodeRegressionModule(NET, optimizer=3)


def test_hyperparameters_hold_the_plain_net_config() -> None:
    model = NodeRegressionModule(NET)
    assert model.hparams["net"] == NET
    assert isinstance(model, EquivariantTask)
