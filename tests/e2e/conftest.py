"""Helpers for end-to-end runs: compose a config in-process, or run the mains as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from e3lab._run import register_resolvers

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "src" / "e3lab" / "conf"
# a tiny shapes model: lmax 2, a narrow radial MLP, 2 steps per epoch
TINY_SHAPES = ["data.lmax=2", "data.steps_per_epoch=2", "model.net.radial_hidden=8", "trainer.max_epochs=2"]


def compose_config(config_name: str, overrides: list[str], run_dir: Path) -> DictConfig:
    """The config ``python <config_name>.py <overrides>`` would run with, writing into ``run_dir``.

    Also saves it as ``<run_dir>/.hydra/config.yaml``, as Hydra does for a real run.
    """
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(run_dir)
        cfg.paths.output_dir = str(run_dir)
        del cfg.hydra
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return cfg


def run_script(script: str, args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python <script> <args>`` from the repository root in ``cwd`` (W&B offline)."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def _clear_hydra() -> None:
    yield
    GlobalHydra.instance().clear()
