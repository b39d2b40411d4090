"""The potential configs: model=potential / potential_gated and model/net=... compose to the right backbone,
${training_data_stats:...} reads the datamodule's statistics, and the checkpoint's hparams are plain."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from e3lab._run._training_data_stats import register_training_data_stats
from e3lab.models import InteratomicPotential
from e3lab.nn import EquivariantConvNet, NequIPNet

from .conftest import compose_config


class StatsData:
    """What the resolver reads: a datamodule's ``statistics()``."""

    def statistics(self) -> dict:
        return {
            "avg_num_neighbors": 12.5,
            "per_element_energy_shift": [-3.5],
            "force_rms": 0.7,
            "per_element_force_rms": [0.7],
        }


@pytest.mark.parametrize(
    ("overrides", "backbone"),
    [
        (["experiment=emt_cu"], NequIPNet),
        (["data=emt_cu", "model=potential"], NequIPNet),
        (["data=emt_cu", "model=potential_gated"], EquivariantConvNet),
        (["experiment=emt_cu", "model/net=gated_conv"], EquivariantConvNet),
    ],
)
def test_potential_configs_build_their_backbone(tmp_path: Path, overrides: list[str], backbone: type) -> None:
    cfg = compose_config("train", overrides, tmp_path)
    register_training_data_stats(StatsData())
    model = instantiate(cfg.model)
    assert isinstance(model, InteratomicPotential) and type(model.net) is backbone
    assert model.energy_shift.tolist() == [-3.5] and model.energy_scale.tolist() == pytest.approx([0.7])
    assert model.chemical_symbols == ["Cu"] and model.cutoff == cfg.data.cutoff
    z = model.net.layers[0].conv.num_neighbors if backbone is NequIPNet else model.net.convs[0].num_neighbors
    assert z == 12.5
    assert model.hparams["net"]["_target_"] == f"e3lab.nn.{backbone.__name__}"
    assert all(type(v) in (str, int, float, bool, list) for v in model.hparams["net"].values())
    if backbone is NequIPNet:  # the experiment's cheaper backbone, the tutorial size otherwise
        expected = "32x0e+32x1o" if "experiment=emt_cu" in overrides else "32x0e+32x0o+32x1e+32x1o"
        assert str(model.net.irreps_hidden) == expected


def test_the_resolver_names_missing_statistics(tmp_path: Path) -> None:
    cfg = compose_config("train", ["experiment=emt_cu"], tmp_path)
    register_training_data_stats(object())
    with pytest.raises(Exception, match="has no statistics"):
        OmegaConf.to_container(cfg.model, resolve=True)
    register_training_data_stats(StatsData())
    cfg.model.per_element_energy_scale = "${training_data_stats:stress_rms}"
    with pytest.raises(Exception, match="has no statistic 'stress_rms'"):
        OmegaConf.to_container(cfg.model, resolve=True)
