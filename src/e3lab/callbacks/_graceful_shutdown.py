"""Turn SIGTERM / SIGINT during training into a checkpoint and a clean stop."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from typing_extensions import override

__all__ = ["GracefulShutdown"]


class GracefulShutdown(pl.Callback):
    """On SIGTERM or SIGINT, save ``<checkpoint dir>/last.ckpt`` and stop at the end of the current step.

    Args:
        dirpath: where ``filename`` goes; by default the ``ModelCheckpoint``'s ``dirpath``, else
            ``<trainer.default_root_dir>/checkpoints``.
        filename: checkpoint file name (``"last.ckpt"``).
        signals: the signals to catch (``SIGTERM`` and ``SIGINT``).

    The handlers are installed when training starts (replacing Lightning's own SIGTERM handler, which
    would exit without a checkpoint) and the previous ones are restored when training ends or fails.
    The first signal only sets a flag; the step in progress finishes, then the checkpoint is written
    (through the trainer's ``CheckpointIO``, atomic with :class:`AtomicCheckpointIO`) and
    ``trainer.should_stop`` is set, so ``Trainer.fit`` returns normally and the process can exit 0.
    A second signal of the same kind goes to the previous handler (a second Ctrl-C interrupts at once).
    Handlers can only be installed from the main thread; elsewhere the callback does nothing.
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str = "last.ckpt",
        signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT),
    ) -> None:
        if not filename or Path(filename).name != filename:
            raise ValueError(f"filename={filename!r} must be a plain file name such as 'last.ckpt'")
        self.dirpath = dirpath
        self.filename = filename
        self.signals = tuple(signal.Signals(s) for s in signals)
        self._previous: dict[signal.Signals, Any] = {}
        self.received: signal.Signals | None = None
        self.saved_path: Path | None = None

    def checkpoint_path(self, trainer: pl.Trainer) -> Path:
        """Where the shutdown checkpoint goes for this ``trainer``."""
        if self.dirpath is not None:
            return Path(self.dirpath) / self.filename
        callback_dir = getattr(trainer.checkpoint_callback, "dirpath", None)
        directory = Path(callback_dir) if callback_dir else Path(trainer.default_root_dir) / "checkpoints"
        return directory / self.filename

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.received = None
        self.saved_path = None
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.signals:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        requested = self.received is not None
        if trainer.world_size > 1:
            requested = bool(trainer.strategy.reduce_boolean_decision(requested, all=False))
        if requested and self.saved_path is None:
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
            return
        previous = self._previous.get(signal.Signals(signum), signal.SIG_DFL)
        self._restore()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)

    def _save_and_stop(self, trainer: pl.Trainer) -> None:
        path = self.checkpoint_path(trainer)
        _claim_as_last(trainer, path)
        trainer.save_checkpoint(path)
        self.saved_path = path
        trainer.should_stop = True
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


def _claim_as_last(trainer: pl.Trainer, path: Path) -> None:
    """Tell a ``ModelCheckpoint(save_last=True)`` that writes the same file that ``path`` is its last one.

    Otherwise it finds a ``last.ckpt`` it did not write and saves ``last-v1.ckpt`` beside it, in this run and
    after every resume, leaving a stale ``last.ckpt`` for the next ``resume=auto``.
    """
    callback = trainer.checkpoint_callback
    if not isinstance(callback, ModelCheckpoint) or not callback.save_last or callback.dirpath is None:
        return
    last_name = f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    if Path(callback.dirpath).resolve() / last_name == path.resolve():
        callback.last_model_path = str(path)
