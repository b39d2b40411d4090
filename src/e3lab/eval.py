"""Hydra main for evaluation: ``python eval.py ckpt_path=outputs/<name>/<time>/checkpoints/last.ckpt``.

The model (class and hyperparameters) comes from the checkpoint alone. The data config comes from the
training run's ``.hydra/config.yaml`` next to the checkpoint when it exists (``data_from_run=true``),
otherwise from ``conf/eval.yaml`` (e.g. ``experiment=square_to_rect``). Prints and returns the test metrics.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from e3lab._run import (
    finish_wandb,
    instantiate_group,
    print_summary,
    register_resolvers,
    require_file,
    resolved_config,
    scalar_metrics,
    set_num_threads,
    start_loggers,
    write_status,
)

log = logging.getLogger("e3lab.eval")
register_resolvers()


def _model_class(ckpt: Path) -> type[L.LightningModule]:
    """The LightningModule class recorded in the checkpoint by e3lab's models."""
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=False)
    path = checkpoint.get("e3lab_model_class")
    if path is None:
        raise ValueError(
            f"checkpoint {ckpt} has no 'e3lab_model_class' entry; it was not written by an e3lab model "
            "(e3lab.models.*), so eval.py cannot rebuild the model"
        )
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _run_config(ckpt: Path) -> DictConfig | None:
    """The training run's saved config (``<run>/.hydra/config.yaml`` for ``<run>/checkpoints/x.ckpt``)."""
    path = ckpt.resolve().parent.parent / ".hydra" / "config.yaml"
    if not path.is_file():
        return None
    loaded = OmegaConf.load(path)
    return loaded if isinstance(loaded, DictConfig) else None


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint ``cfg.ckpt_path``; return the test metrics."""
    set_num_threads(cfg.get("num_threads"))
    ckpt = require_file(cfg.ckpt_path)
    data_cfg, float64 = cfg.data, cfg.float64
    saved = _run_config(ckpt) if cfg.data_from_run else None
    if saved is not None:
        log.info("data config from the training run: %s", ckpt.resolve().parent.parent / ".hydra")
        data_cfg, float64 = saved.data, saved.get("float64", False)
    if float64:
        torch.set_default_dtype(torch.float64)
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(data_cfg)
    model = _model_class(ckpt).load_from_checkpoint(ckpt, map_location="cpu")
    loggers = start_loggers(instantiate_group(cfg.get("logger")), resolved_config(cfg))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    trainer.test(model, datamodule=datamodule)
    metrics = scalar_metrics(trainer.callback_metrics)
    print_summary(f"e3lab eval: {ckpt}", metrics, cfg.paths.output_dir, {"checkpoint": str(ckpt)})
    write_status(cfg.paths.output_dir, "completed", metrics, checkpoint=str(ckpt))
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> dict[str, float]:
    """Console entry point (``e3lab-eval``)."""
    previous_dtype = torch.get_default_dtype()
    try:
        return evaluate(cfg)
    except Exception:
        finish_wandb(exit_code=1)
        raise
    finally:
        torch.set_default_dtype(previous_dtype)
        finish_wandb(exit_code=0)


if __name__ == "__main__":
    main()
