"""DDP under Hydra: the command Lightning starts for the other ranks, so that every rank joins this job.

Lightning restarts ``sys.argv`` for ranks 1..N-1 with ``hydra.run.dir`` set to the single-run folder. In a
multirun that re-launches the whole sweep (``-m`` and every value list) into the wrong folder, and under
the submitit launcher ``sys.argv`` is submitit's job runner. :func:`use_rank_command` makes Lightning run
this job alone instead: the same main module and config, this job's overrides, its output folder, no
``.hydra`` copy. One run folder (and one W&B run, started on rank zero only) per job.
"""

from __future__ import annotations

import sys
from functools import partial

from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.strategies.launchers import subprocess_script

__all__ = ["rank_command", "use_rank_command"]


def rank_command(local_rank: int, main_module: str) -> tuple[list[str], str]:
    """``(command, cwd)`` that runs this Hydra job as DDP rank ``local_rank`` (Lightning sets the rank)."""
    hydra = HydraConfig.get()
    command = [sys.executable, "-m", main_module, "--config-name", str(hydra.job.config_name)]
    for source in hydra.runtime.config_sources:
        if source.provider == "command-line":
            command += ["--config-dir", str(source.path).removeprefix("file://")]
    command += [str(override) for override in hydra.overrides.task]
    command += [
        f"hydra.run.dir={hydra.runtime.output_dir}",
        "hydra.output_subdir=null",
        f"hydra.job.name={hydra.job.name}_rank{local_rank}",
    ]
    return command, str(hydra.runtime.cwd)


def use_rank_command(main_module: str) -> None:
    """Make Lightning's DDP launcher start the other ranks with :func:`rank_command` (idempotent)."""
    subprocess_script._hydra_subprocess_cmd = partial(rank_command, main_module=main_module)
