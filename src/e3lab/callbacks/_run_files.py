"""Where a callback writes its files, and how it hands figures and tables to the loggers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

__all__ = ["append_jsonl", "log_image", "log_metrics", "log_table", "run_dir"]


def run_dir(trainer: pl.Trainer) -> Path:
    """The run directory: ``trainer.default_root_dir`` (the Hydra output dir in e3lab's mains)."""
    return Path(trainer.default_root_dir)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created with its parents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def log_metrics(trainer: pl.Trainer, metrics: dict[str, float]) -> None:
    """Send ``metrics`` straight to every logger at the current global step, and into
    ``trainer.callback_metrics`` (so the run's final metrics, ``status.json`` and sweeps see them).

    For hooks where ``LightningModule.log`` is not allowed (``on_fit_end``, ``on_test_end``).
    """
    trainer.callback_metrics.update({key: torch.tensor(value) for key, value in metrics.items()})
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)


def log_image(trainer: pl.Trainer, key: str, path: Path) -> None:
    """Log the PNG at ``path`` as an image: ``wandb.Image`` for W&B, ``add_image`` for TensorBoard."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            from matplotlib.image import imread

            logger.experiment.add_image(key, imread(path)[..., :3], trainer.global_step, dataformats="HWC")


def log_table(trainer: pl.Trainer, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Log a table to the W&B loggers (a ``wandb.Table``); other loggers get the files only."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(
                key=key, columns=list(columns), data=[list(r) for r in rows], step=trainer.global_step
            )
