"""What a run reports at its end: metrics as floats, the summary printout, the resolved config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

__all__ = ["print_summary", "resolved_config", "scalar_metrics"]


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Plain floats from Lightning's ``callback_metrics`` (tensors with one element)."""
    out = {}
    for key, value in metrics.items():
        if (isinstance(value, torch.Tensor) and value.numel() == 1) or isinstance(value, (int, float)):
            out[key] = float(value)
    return out


@rank_zero_only
def print_summary(title: str, metrics: Mapping[str, float], run_dir: str, extra: Mapping[str, str]) -> None:
    """Print the final metrics (task metrics first, then equivariance, timing, symmetry) and the run dir."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics, key=lambda k: (k.split("/")[0] in ("equivariance", "timing", "symmetry"), k)):
        table.add_row(key, f"{metrics[key]:.6g}")
    console = Console()
    if metrics:
        console.print(table)
    for key, value in extra.items():
        console.print(f"{key}: {value}")
    console.print(f"run dir: {Path(run_dir).resolve()}")


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config as a plain dict with every interpolation resolved (for loggers and status files)."""
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}
