"""``python train.py <overrides>`` as a submitit job that submitit can checkpoint and requeue.

It is what hydra-submitit-launcher submits for each multirun job (its launcher object is the callable, and
its ``checkpoint`` resubmits the same call), reduced to one run.
"""

from __future__ import annotations

import sys
from typing import Any


class TrainJob:
    """Run e3lab's training main with ``overrides``; requeueable with the same arguments."""

    def __init__(self, overrides: list[str]) -> None:
        self.overrides = list(overrides)

    def __call__(self) -> None:
        from e3lab.train import main

        sys.argv = ["train.py", *self.overrides]
        main()

    def checkpoint(self) -> Any:
        """What submitit requeues on a timeout signal: this same job (it resumes from its run folder)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self)
