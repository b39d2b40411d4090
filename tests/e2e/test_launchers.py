"""The SLURM launcher configs compose (nothing is submitted): partition, resources, submitit target."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from e3lab._run import register_resolvers

from .conftest import CONF_DIR


def _compose(overrides: list[str]) -> DictConfig:
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_slurm_launcher_composes_with_overrides() -> None:
    cfg = _compose(["hydra/launcher=slurm", "experiment=square_to_rect", "hydra.launcher.partition=gpu"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.cpus_per_task) == ("gpu", 0, 4)
    assert cfg.name == "square_to_rect"
    # submitit's SIGUSR2 comes 120 s before the limit; the job is requeued up to 3 times
    assert (launcher.signal_delay_s, launcher.max_num_timeout) == (120, 3)


def test_slurm_gpu_launcher_needs_trainer_gpu_for_the_trainer() -> None:
    """slurm_gpu asks SLURM for a GPU; the accelerator comes from trainer=gpu (as the README says)."""
    cfg = _compose(["hydra/launcher=slurm_gpu", "trainer=gpu", "experiment=tetris"])
    assert cfg.hydra.launcher.gpus_per_node == 1
    assert cfg.trainer.accelerator == "gpu"
    assert _compose(["hydra/launcher=slurm_gpu"]).trainer.accelerator == "cpu"
