"""Which checkpoint a run starts from: an explicit ``ckpt_path``, or with ``resume=auto`` its own last one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["require_file", "resolve_ckpt_path", "scheduled_job"]


def scheduled_job() -> bool:
    """True in a job that a scheduler may have requeued: a submitit job (SLURM or local executor), or a
    SLURM job that SLURM restarted (``SLURM_RESTART_COUNT > 0``)."""
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    return "SUBMITIT_EXECUTOR" in os.environ or (restarts.isdigit() and int(restarts) > 0)


log = logging.getLogger("e3lab")


def resolve_ckpt_path(ckpt_path: str | None, resume: str | None, checkpoint_dir: str) -> str | None:
    """Checkpoint to resume from: ``ckpt_path`` if given, else the run's ``last.ckpt`` with ``resume=auto``.

    ``resume=null`` acts as ``auto`` in a :func:`scheduled_job`: a requeued job resumes from its own run
    folder (a job's first start finds no checkpoint there, its folder being new).

    Raises:
        FileNotFoundError: ``ckpt_path`` does not exist.
        ValueError: ``resume`` is neither null nor ``"auto"``.
    """
    if resume not in (None, "auto"):
        raise ValueError(f"resume={resume!r} must be null or 'auto' (resume from checkpoints/last.ckpt)")
    if ckpt_path is not None:
        return str(require_file(ckpt_path))
    if resume is None and scheduled_job():
        resume = "auto"
    last = Path(checkpoint_dir) / "last.ckpt"
    if resume == "auto" and last.is_file():
        log.info("resume=auto: resuming from %s", last)
        _remove_torn_writes(Path(checkpoint_dir))
        return str(last)
    return None


def _remove_torn_writes(directory: Path) -> None:
    """Delete the temporary files of checkpoint writes that a kill interrupted (``.<name>.<random>.tmp``,
    see :func:`e3lab.callbacks.atomic_write`); the checkpoints themselves are whole."""
    for torn in directory.glob(".*.ckpt.*.tmp"):
        log.info("removing %s, left by a checkpoint write that was killed", torn)
        torn.unlink(missing_ok=True)


def require_file(ckpt_path: str) -> Path:
    """``ckpt_path`` as a Path; a clear FileNotFoundError when it does not exist."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"ckpt_path={ckpt_path!r} does not exist (looked in {path.resolve()}); pass the path of a .ckpt "
            "file, e.g. ckpt_path=outputs/<name>/<time>/checkpoints/last.ckpt"
        )
    return path
