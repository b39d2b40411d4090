"""Turn a stop signal during training (SIGTERM, SIGINT, SLURM/submitit's SIGUSR1/SIGUSR2) into a checkpoint
and a clean stop at the next step; hand a cluster's requeue signal on to its scheduler afterwards."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from typing_extensions import override

from e3lab.callbacks._last_checkpoint import last_checkpoint_path, save_last_checkpoint

__all__ = ["GracefulShutdown"]

# SIGUSR1: what SLURM jobs usually ask for with --signal=USR1@<seconds>; SIGUSR2: what submitit sends before
# a job's time limit (and on preemption). Both are requeue signals: after the save the scheduler's own
# handler (submitit's, Lightning's SLURM one) runs, so the job goes back into the queue.
_STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2")
_REQUEUE_SIGNALS = ("SIGUSR1", "SIGUSR2")


def _available(names: Sequence[str]) -> tuple[signal.Signals, ...]:
    """The signals named in ``names`` that this platform has (Windows has no SIGUSR1/SIGUSR2)."""
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


class GracefulShutdown(pl.Callback):
    """On a stop signal, save ``<checkpoint dir>/last.ckpt`` and stop at the end of the current step.

    Args:
        dirpath: where ``filename`` goes; by default the ``dirpath`` of the ``ModelCheckpoint`` with
            ``save_last`` (else of the first one), else ``<trainer.default_root_dir>/checkpoints``.
        filename: checkpoint file name (``"last.ckpt"``).
        signals: the signals to catch (default SIGTERM, SIGINT, SIGUSR1, SIGUSR2).
        requeue_signals: the caught signals that ask for a requeue (default SIGUSR1, SIGUSR2): after the
            run has stopped and written its files, :meth:`hand_over` calls the handler that was installed
            before training for that signal (submitit's requeue, Lightning's SLURM requeue).

    The handlers are installed when training starts (replacing Lightning's and submitit's, which would
    exit or requeue without a checkpoint of this step) and the previous ones are restored when training
    ends or fails. The first signal only sets a flag; the step in progress finishes, then the checkpoint is
    written (through the trainer's ``CheckpointIO``, atomic with :class:`AtomicCheckpointIO`),
    ``trainer.should_stop`` is set and ``min_epochs`` / ``min_steps`` are lifted, so the run stops at this
    step even in its first epoch (Lightning alone ignores ``should_stop`` until ``min_epochs`` is met), and
    the validation Lightning would run on stopping is skipped (the resumed run validates where an
    uninterrupted one does). On an epoch's last step the save waits for the epoch's end (after its
    validation), as a checkpoint between the two would skip that validation on resume.
    ``Trainer.fit`` returns normally and the process can exit 0.
    A second signal of the same kind goes to the previous handler (a second Ctrl-C interrupts at once).
    Handlers can only be installed from the main thread; elsewhere the callback does nothing.

    Hand-written because Lightning's own SIGTERM handling raises out of ``fit`` without a checkpoint, and
    nothing in Lightning stops at the next step in every epoch.
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str = "last.ckpt",
        signals: Sequence[int | str] | None = None,
        requeue_signals: Sequence[int | str] | None = None,
    ) -> None:
        if not filename or Path(filename).name != filename:
            raise ValueError(f"filename={filename!r} must be a plain file name such as 'last.ckpt'")
        self.dirpath = dirpath
        self.filename = filename
        self.signals = _parse(signals, _STOP_SIGNALS, "signals")
        self.requeue_signals = _parse(requeue_signals, _REQUEUE_SIGNALS, "requeue_signals")
        self._previous: dict[signal.Signals, Any] = {}
        self._hand_over_to: Callable[[int, FrameType | None], Any] | None = None
        self.received: signal.Signals | None = None
        self.saved_path: Path | None = None

    def checkpoint_path(self, trainer: pl.Trainer) -> Path:
        """Where the shutdown checkpoint goes for this ``trainer``."""
        if self.dirpath is not None:
            return Path(self.dirpath) / self.filename
        last = last_checkpoint_path(trainer)
        if last is not None:
            return last.parent / self.filename
        callback_dir = getattr(trainer.checkpoint_callback, "dirpath", None)
        directory = Path(callback_dir) if callback_dir else Path(trainer.default_root_dir) / "checkpoints"
        return directory / self.filename

    @property
    def requeue_requested(self) -> bool:
        """True when the signal that stopped training asks for a requeue and a handler can do it."""
        return self.received is not None and self._hand_over_to is not None

    def hand_over(self) -> None:
        """Call the pre-training handler of the requeue signal that stopped the run (submitit: dumps the
        job, requeues it and exits the process). Call it last, once the run's files are written."""
        handler, self._hand_over_to = self._hand_over_to, None
        if handler is not None and self.received is not None:
            handler(int(self.received), None)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.received = None
        self.saved_path = None
        self._hand_over_to = None
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.signals:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.saved_path is not None or not self._requested(trainer):
            return
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return  # the epoch ends now: save after its validation, in on_train_epoch_end
        self._save_and_stop(trainer)
        _skip_stopping_validation(trainer)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.saved_path is None and self._requested(trainer):
            self._save_and_stop(trainer)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.received is not None and self.saved_path is None:
            self._save_and_stop(trainer)
        self._restore()

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
            previous = self._previous.get(self.received)
            if self.received in self.requeue_signals and callable(previous):
                self._hand_over_to = previous
            return
        previous = self._previous.get(signal.Signals(signum), signal.SIG_DFL)
        self._restore()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)

    def _requested(self, trainer: pl.Trainer) -> bool:
        """Whether a signal arrived, on this rank or (DDP) on any."""
        requested = self.received is not None
        if trainer.world_size > 1:
            requested = bool(trainer.strategy.reduce_boolean_decision(requested, all=False))
        return requested

    def _save_and_stop(self, trainer: pl.Trainer) -> None:
        path = self.checkpoint_path(trainer)
        save_last_checkpoint(trainer, path)
        self.saved_path = path
        trainer.should_stop = True
        # Lightning honours should_stop only once min_epochs / min_steps are met: lift them
        trainer.fit_loop.min_epochs = 0
        trainer.fit_loop.epoch_loop.min_steps = 0
        name = self.received.name if self.received is not None else "a signal"
        rank_zero_info(
            f"GracefulShutdown: received {name}; saved {path} at global step {trainer.global_step} "
            "and stopping after this step"
        )

    def _restore(self) -> None:
        """Put back the previous handlers, unless someone else replaced ours meanwhile."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous = {}


def _parse(
    signals: Sequence[int | str] | None, default: Sequence[str], name: str
) -> tuple[signal.Signals, ...]:
    """Signals from numbers or names ("SIGUSR2", "USR2"); ``None`` gives the platform's ``default`` ones."""
    if signals is None:
        return _available(default)
    parsed = []
    for item in signals:
        if isinstance(item, str):
            key = item.upper() if item.upper().startswith("SIG") else f"SIG{item.upper()}"
            if not hasattr(signal, key):
                raise ValueError(f"{name}: unknown signal {item!r}; use names such as 'SIGTERM' or 'SIGUSR2'")
            parsed.append(signal.Signals(getattr(signal, key)))
        else:
            parsed.append(signal.Signals(item))
    return tuple(parsed)


def _skip_stopping_validation(trainer: pl.Trainer) -> None:
    """Skip the validation Lightning runs when it stops mid-epoch (an uninterrupted run has none there)."""
    # read once, in the epoch loop's on_advance_end, right after this hook
    trainer.fit_loop.epoch_loop._skip_next_val = True
