"""W&B start-up and shutdown: one W&B run per run folder (a resumed run continues it), W&B failures that
do not end the run, and closing the run.

A run resumed from a step checkpoint logs again the steps between that checkpoint and the kill, with the
same values; W&B keeps them if the killed process had sent them (online: the history shows the step
twice). What W&B had not yet written when a process was SIGKILLed is lost from its history (its service
buffers); ``csv/metrics.csv`` is the kill-safe record, with every step exactly once.
"""

from __future__ import annotations

import json
import secrets
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, open_dict

from e3lab.callbacks import atomic_write_text

__all__ = ["WANDB_RUN_FILE", "assign_wandb_run", "finish_wandb", "start_loggers"]

# <run dir>/wandb_run.json: {"id": the W&B run id of this run folder}
WANDB_RUN_FILE = "wandb_run.json"


def _read_run_file(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / WANDB_RUN_FILE
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def assign_wandb_run(logger_cfg: DictConfig | None, run_dir: str, resuming: bool) -> None:
    """Give the ``wandb`` logger config this run folder's W&B run id, with ``resume="allow"``.

    A resumed run (``resuming``) reuses the id kept in ``<run_dir>/wandb_run.json``, so W&B continues the
    same run instead of starting a second one; a fresh run gets a new id, written there (rank zero).
    An id set in the config wins. Does nothing without a ``wandb`` logger.
    """
    if logger_cfg is None or logger_cfg.get("wandb") is None:
        return
    wandb_cfg = logger_cfg.wandb
    kept = _read_run_file(run_dir) if resuming else {}
    run_id = wandb_cfg.get("id") or kept.get("id") or secrets.token_hex(4)
    with open_dict(wandb_cfg):
        wandb_cfg.id = run_id
        wandb_cfg.resume = "allow"
    if kept.get("id") != run_id:
        _write_run_file(run_dir, {"id": run_id})


@rank_zero_only
def _write_run_file(run_dir: str | Path, payload: dict[str, Any]) -> None:
    atomic_write_text(Path(run_dir) / WANDB_RUN_FILE, json.dumps(payload))


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
    training and the local loggers carry on. Hand-written: Lightning has no option to survive logger errors.
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
