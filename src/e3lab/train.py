"""Hydra main for training: ``python train.py experiment=square_to_rect`` or ``e3lab-train ...``.

Builds data, model, callbacks, loggers and trainer from ``conf/train.yaml``, trains (resuming from
``ckpt_path`` or, with ``resume=auto``, from the run's ``last.ckpt``; a job requeued by SLURM/submitit
resumes from its own run folder by itself), tests, prints a summary and writes ``<run dir>/status.json``
("completed"; "interrupted" with the checkpoint to resume from when a signal stopped training, in which
case the test is skipped and a requeue signal is then handed to the scheduler). Returns the monitored
metric (for Optuna sweeps). In a multirun a crashing job is recorded as failed and the sweep goes on.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig

from e3lab._run import (
    assign_wandb_run,
    finish_wandb,
    instantiate_group,
    is_multirun,
    print_summary,
    register_resolvers,
    resolve_ckpt_path,
    resolved_config,
    scalar_metrics,
    set_num_threads,
    start_loggers,
    use_rank_command,
    write_status,
)
from e3lab._run._training_data_stats import register_training_data_stats
from e3lab.callbacks import GracefulShutdown, ResumableCSVLogger, SummaryCallback, last_checkpoint_path

log = logging.getLogger("e3lab.train")
register_resolvers()


def _test_ckpt(trainer: L.Trainer, choice: str | None) -> str | None:
    """Checkpoint for the test run: "best" falls back to the current weights when there is none."""
    if choice == "best":
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback is not None else ""
        if not best:
            log.warning("no best checkpoint (no monitored metric was logged); testing the current weights")
            return None
        return best
    if choice == "last":
        last = last_checkpoint_path(trainer)
        return str(last) if last is not None and last.is_file() else None
    return choice


def _fit_ckpt(trainer: L.Trainer, resolved: str | None, explicit: str | None) -> str | None:
    """What ``fit`` resumes from: an explicit ``ckpt_path``; for ``resume=auto``, Lightning's ``"last"``
    (the newest ``last*.ckpt`` of the ``ModelCheckpoint`` callbacks) when one keeps a last checkpoint."""
    if resolved is None or explicit is not None:
        return resolved
    return "last" if last_checkpoint_path(trainer) is not None else resolved


def _interrupted(callbacks: list[Any]) -> GracefulShutdown | None:
    """The ``GracefulShutdown`` callback that stopped training on a signal, if one did."""
    for callback in callbacks:
        if isinstance(callback, GracefulShutdown) and callback.received is not None:
            return callback
    return None


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and test) as configured; return the final metrics (train, val, test, callbacks)."""
    set_num_threads(cfg.get("num_threads"))
    if cfg.float64:
        torch.set_default_dtype(torch.float64)
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    register_training_data_stats(datamodule)  # ${training_data_stats:...} in the model config
    model = instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    ckpt_path = resolve_ckpt_path(cfg.ckpt_path, cfg.resume, cfg.paths.checkpoint_dir)
    assign_wandb_run(cfg.get("logger"), cfg.paths.output_dir, resuming=ckpt_path is not None)
    loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        if isinstance(logger, ResumableCSVLogger) and ckpt_path is not None:
            logger.append = True  # a resumed run continues its metrics.csv
    loggers = start_loggers(loggers, resolved_config(cfg))
    if loggers and cfg.model.get("scheduler") is not None:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    use_rank_command("e3lab.train")  # DDP ranks join this job (also in a multirun), in its run folder
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    if cfg.train:
        trainer.fit(model, datamodule=datamodule, ckpt_path=_fit_ckpt(trainer, ckpt_path, cfg.ckpt_path))
    metrics = scalar_metrics(trainer.callback_metrics)
    stopped = _interrupted(callbacks)
    if stopped is not None and stopped.received is not None:
        # a signal stopped training: no test on half-trained weights, and the run is not "completed"
        resume_from = str(stopped.saved_path) if stopped.saved_path is not None else None
        log.warning(
            "stopped by %s; resume with resume=auto (checkpoint %s)", stopped.received.name, resume_from
        )
        print_summary(
            f"e3lab: {cfg.name} (interrupted)",
            metrics,
            cfg.paths.output_dir,
            {"resume from": str(resume_from)},
        )
        write_status(
            cfg.paths.output_dir,
            "interrupted",
            metrics,
            signal=stopped.received.name,
            ckpt_path=resume_from,
            requeued=stopped.requeue_requested,
        )
        if stopped.requeue_requested:
            finish_wandb(exit_code=0)
            log.warning("handing %s to the scheduler: requeue this job", stopped.received.name)
            stopped.hand_over()  # submitit: requeues the job and exits this process
        return metrics
    if cfg.test:
        ckpt = _test_ckpt(trainer, cfg.test_ckpt) if cfg.train else ckpt_path
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt)
        metrics.update(scalar_metrics(trainer.callback_metrics))

    extra = {}
    callback = trainer.checkpoint_callback
    if callback is not None and getattr(callback, "best_model_path", ""):
        extra["best checkpoint"] = callback.best_model_path
    last = last_checkpoint_path(trainer)
    if last is not None and last.is_file():
        extra["last checkpoint"] = str(last)
    # SummaryCallback already printed the metric tables; then only say where the run lives
    summarised = any(isinstance(c, SummaryCallback) for c in callbacks)
    print_summary(f"e3lab: {cfg.name}", {} if summarised else metrics, cfg.paths.output_dir, extra)
    write_status(cfg.paths.output_dir, "completed", metrics, **extra)
    return metrics


def run(cfg: DictConfig) -> float | None:
    """Run :func:`train` with W&B always closed; return the optimised metric (NaN for a failed sweep job)."""
    previous_dtype = torch.get_default_dtype()
    try:
        metrics = train(cfg)
    except Exception as err:
        finish_wandb(exit_code=1)
        write_status(cfg.paths.output_dir, "failed", {}, error=f"{type(err).__name__}: {err}")
        if not is_multirun():
            raise
        log.error("job failed, the sweep goes on:\n%s", traceback.format_exc())
        return float("nan")
    finally:
        torch.set_default_dtype(previous_dtype)
    finish_wandb(exit_code=0)
    metric: Any = cfg.get("optimized_metric") or cfg.get("monitor")
    return metrics.get(metric) if metric else None


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console entry point (``e3lab-train``)."""
    return run(cfg)


if __name__ == "__main__":
    main()
