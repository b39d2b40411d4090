"""Helpers for the reliability tests: compose e3lab's training config in-process and run it."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import e3lab.conf
from e3lab._run import register_resolvers

CONF_DIR = Path(e3lab.conf.__file__).resolve().parent
# the symmetry-breaking tutorial's rectangle-to-square task, shrunk: lmax 2, a narrow radial MLP,
# 2 steps per epoch, CSV only
TINY = [
    "experiment=rect_to_square",
    "data.lmax=2",
    "data.steps_per_epoch=2",
    "model.net.radial_hidden=8",
    "trainer.max_epochs=2",
    "logger=csv",
    "callbacks.rich_progress_bar=null",
    "+trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
]


def compose_train(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """The config of ``python train.py <overrides>``, writing into ``run_dir`` (Hydra state set up)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=overrides, return_hydra_config=run_dir is not None)
    finally:
        GlobalHydra.instance().clear()
    if run_dir is None:
        return cfg
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(run_dir)
        cfg.paths.output_dir = str(run_dir)
        del cfg.hydra
    return cfg
