"""Plumbing shared by the Hydra mains (train.py, eval.py): resolvers, instantiation of lists of objects,
W&B start-up and shutdown, checkpoint resolution, the end-of-run summary and status file.

Only this module and the mains import Hydra and OmegaConf.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("e3lab")


def _sh_irreps(lmax: int) -> str:
    """Irreps of a spherical signal up to ``lmax``: ``"1x0e + 1x1o + 1x2e + ..."`` (parity ``(-1)^l``)."""
    lmax = int(lmax)
    if lmax < 0:
        raise ValueError(f"lmax={lmax} must be >= 0")
    return " + ".join(f"1x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(lmax + 1))


def _direction(mode: str) -> str:
    """Optuna direction from a checkpoint mode: ``min -> minimize``, ``max -> maximize``."""
    directions = {"min": "minimize", "max": "maximize"}
    if mode not in directions:
        raise ValueError(f"monitor_mode={mode!r} must be 'min' or 'max'")
    return directions[mode]


def register_resolvers() -> None:
    """Register the OmegaConf resolvers the configs use (idempotent)."""
    OmegaConf.register_new_resolver("sh_irreps", _sh_irreps, replace=True)
    OmegaConf.register_new_resolver("hparams_direction", _direction, replace=True)


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a config group that maps names to ``_target_`` configs (loggers, callbacks).

    Entries set to null (``callbacks.rich_progress_bar=null``) are skipped.
    """
    if group is None:
        return []
    if not isinstance(group, DictConfig):
        raise TypeError(f"expected a mapping of name -> config with _target_, got {type(group).__name__}")
    objects = []
    for name, cfg in group.items():
        if cfg is None:
            continue
        if not isinstance(cfg, DictConfig) or "_target_" not in cfg:
            raise ValueError(f"entry {name!r} has no _target_; each entry must be a config with a _target_")
        log.info("instantiating %s <%s>", name, cfg._target_)
        objects.append(instantiate(cfg))
    return objects


def start_loggers(loggers: list[Logger], config: dict[str, Any]) -> list[Logger]:
    """Start the loggers now and log the resolved ``config``; drop W&B with a warning if it fails to start."""
    started = []
    for logger in loggers:
        try:
            if isinstance(logger, WandbLogger):
                _ = logger.experiment  # wandb.init happens here (rank zero only)
            logger.log_hyperparams(config)
        except Exception as err:
            if not isinstance(logger, WandbLogger):
                raise
            warnings.warn(f"W&B failed to start ({err!r}); continuing with the local loggers", stacklevel=2)
            finish_wandb(exit_code=1)
            continue
        if isinstance(logger, WandbLogger):
            _guard_wandb_writes(logger)
        started.append(logger)
    return started


def _guard_wandb_writes(logger: WandbLogger) -> None:
    """Make a failing W&B write warn once and turn W&B off for the rest of the run, instead of ending it.

    Every write goes through these methods (``log_image`` and ``log_table`` end in ``log_metrics``), so
    training and the local loggers carry on.
    """
    failed = False

    def guard(name: str) -> None:
        method = getattr(logger, name)

        def guarded(*args: Any, **kwargs: Any) -> None:
            nonlocal failed
            if failed:
                return
            try:
                method(*args, **kwargs)
            except Exception as err:
                failed = True
                warnings.warn(
                    f"W&B failed to write ({name}: {err!r}); W&B logging is off for the rest of this run, "
                    "the local loggers continue",
                    stacklevel=2,
                )

        setattr(logger, name, guarded)

    for name in ("log_hyperparams", "log_metrics", "log_image", "log_table"):
        guard(name)


def finish_wandb(exit_code: int = 0) -> None:
    """Close the active W&B run, if any, so that the next run (multirun job) gets its own."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        try:
            wandb.finish(exit_code=exit_code)
        except Exception as err:  # the run's local files are complete; only the upload failed
            warnings.warn(f"W&B failed to finish the run ({err!r}); its local files are kept", stacklevel=2)


def resolve_ckpt_path(ckpt_path: str | None, resume: str | None, checkpoint_dir: str) -> str | None:
    """Checkpoint to resume from: ``ckpt_path`` if given, else the run's ``last.ckpt`` with ``resume=auto``.

    Raises:
        FileNotFoundError: ``ckpt_path`` does not exist.
        ValueError: ``resume`` is neither null nor ``"auto"``.
    """
    if resume not in (None, "auto"):
        raise ValueError(f"resume={resume!r} must be null or 'auto' (resume from checkpoints/last.ckpt)")
    if ckpt_path is not None:
        return str(require_file(ckpt_path))
    last = Path(checkpoint_dir) / "last.ckpt"
    if resume == "auto" and last.is_file():
        log.info("resume=auto: resuming from %s", last)
        return str(last)
    return None


def require_file(ckpt_path: str) -> Path:
    """``ckpt_path`` as a Path; a clear FileNotFoundError when it does not exist."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"ckpt_path={ckpt_path!r} does not exist (looked in {path.resolve()}); pass the path of a .ckpt "
            "file, e.g. ckpt_path=outputs/<name>/<time>/checkpoints/last.ckpt"
        )
    return path


def set_num_threads(num_threads: int | None) -> None:
    """Apply the ``num_threads`` config key with ``torch.set_num_threads``; ``None`` keeps torch's default.

    Raises:
        ValueError: ``num_threads`` is not a positive integer.
    """
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads={num_threads!r} must be a positive integer or null (torch's default)")
    torch.set_num_threads(num_threads)


def is_multirun() -> bool:
    """True inside a Hydra multirun job."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Plain floats from Lightning's ``callback_metrics`` (tensors with one element)."""
    out = {}
    for key, value in metrics.items():
        if (isinstance(value, torch.Tensor) and value.numel() == 1) or isinstance(value, (int, float)):
            out[key] = float(value)
    return out


@rank_zero_only
def write_status(run_dir: str, status: str, metrics: Mapping[str, float], **extra: Any) -> None:
    """Write ``<run_dir>/status.json``: ``{"status": ..., "metrics": {...}, ...}``.

    ``status`` is "completed", "interrupted" (a signal stopped training) or "failed".
    """
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    payload = {"status": status, "metrics": clean, **extra}
    (path / "status.json").write_text(json.dumps(payload, indent=2, default=str))


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
