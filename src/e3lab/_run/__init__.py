"""The run plumbing of the Hydra mains (train.py, eval.py), one job per module.

- :mod:`._resolvers`: the OmegaConf resolvers the configs use (the one place they are registered).
- :mod:`._instantiate`: lists of loggers / callbacks from a config group.
- :mod:`._wandb_run`: W&B start-up (resuming the run's own W&B run), write guards and shutdown.
- :mod:`._checkpoint_path`: which checkpoint a run resumes from (a requeued job: its own last one).
- :mod:`._ddp_launch`: the command of the other DDP ranks, so they join this job (also in a multirun).
- :mod:`._run_summary`: final metrics as floats, the summary printout, the resolved config.
- :mod:`._status_file`: ``status.json``, written atomically.
- :mod:`._environment`: thread count, multirun detection.

Only this package and the mains import Hydra and OmegaConf.
"""

from e3lab._run._checkpoint_path import require_file, resolve_ckpt_path, scheduled_job
from e3lab._run._ddp_launch import use_rank_command
from e3lab._run._environment import is_multirun, set_num_threads
from e3lab._run._instantiate import instantiate_group
from e3lab._run._resolvers import register_resolvers
from e3lab._run._run_summary import print_summary, resolved_config, scalar_metrics
from e3lab._run._status_file import write_status
from e3lab._run._wandb_run import assign_wandb_run, finish_wandb, start_loggers

__all__ = [
    "assign_wandb_run",
    "finish_wandb",
    "instantiate_group",
    "is_multirun",
    "print_summary",
    "register_resolvers",
    "require_file",
    "resolve_ckpt_path",
    "resolved_config",
    "scalar_metrics",
    "scheduled_job",
    "set_num_threads",
    "start_loggers",
    "use_rank_command",
    "write_status",
]
