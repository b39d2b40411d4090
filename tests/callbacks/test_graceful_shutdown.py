"""GracefulShutdown: a signal during training gives a checkpoint, a clean stop and the old handlers back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from e3lab.callbacks import GracefulShutdown

from ._callback_toys import ToyConvNet, ToyTask, batches, tiny_trainer

TOYS_DIR = Path(__file__).parent


class SignalsItself(ToyTask):
    """Sends ``signum`` to its own process during training step ``at_step``."""

    def __init__(self, net, signum: int, at_step: int):
        super().__init__(net)
        self.signum, self.at_step = signum, at_step

    def training_step(self, batch, batch_idx):
        if self.global_step == self.at_step:
            os.kill(os.getpid(), self.signum)
        return super().training_step(batch, batch_idx)


def test_sigint_in_process_saves_stops_and_restores_the_handler(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    net = ToyConvNet()
    shutdown = GracefulShutdown()
    trainer = tiny_trainer(
        tmp_path, [shutdown], max_steps=50, max_epochs=10, limit_val_batches=0, enable_checkpointing=False
    )
    trainer.fit(SignalsItself(net, signal.SIGINT, at_step=2), batches(4, net))
    assert trainer.global_step == 3  # the step in progress finished, then the run stopped
    assert shutdown.saved_path == tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(shutdown.saved_path, weights_only=False)["global_step"] == 3
    assert signal.getsignal(signal.SIGINT) is before


class CountsValidations(SignalsItself):
    validations = 0

    def validation_step(self, batch, batch_idx):
        self.validations += 1
        return super().validation_step(batch, batch_idx)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2])
def test_a_signal_in_epoch_0_stops_at_the_next_step_despite_min_epochs(tmp_path, signum):
    """Lightning ignores should_stop until min_epochs is met; the callback lifts that, and skips the
    validation Lightning would run on stopping early."""
    net = ToyConvNet()
    shutdown = GracefulShutdown()
    trainer = tiny_trainer(tmp_path, [shutdown], min_epochs=2, max_epochs=3, enable_checkpointing=False)
    task = CountsValidations(net, signum, at_step=2)
    trainer.fit(task, batches(8, net), batches(1, net))
    assert trainer.global_step == 3  # step 2 of epoch 0 (of 8) finished, then the run stopped
    assert shutdown.received == signum
    assert torch.load(shutdown.saved_path, weights_only=False)["global_step"] == 3
    assert task.validations == 0
    assert not shutdown.requeue_requested  # no scheduler handler was installed before training


def test_a_signal_on_an_epochs_last_step_saves_after_its_validation(tmp_path):
    """A checkpoint between an epoch's last step and its validation would skip that validation on resume."""
    net = ToyConvNet()
    shutdown = GracefulShutdown()
    trainer = tiny_trainer(tmp_path, [shutdown], max_epochs=3, enable_checkpointing=False)
    task = CountsValidations(net, signal.SIGTERM, at_step=3)  # the 4th and last step of epoch 0
    trainer.fit(task, batches(4, net), batches(1, net))
    assert trainer.global_step == 4 and task.validations == 1
    assert torch.load(shutdown.saved_path, weights_only=False)["global_step"] == 4

    # resumed, it goes on with epoch 1 (4 steps, 1 validation): epoch 0's validation is not repeated
    resumed = CountsValidations(net, signal.SIGTERM, at_step=-1)
    trainer = tiny_trainer(tmp_path, [GracefulShutdown()], max_epochs=2, enable_checkpointing=False)
    trainer.fit(resumed, batches(4, net), batches(1, net), ckpt_path=shutdown.saved_path)
    assert trainer.global_step == 8 and resumed.validations == 1


def test_a_requeue_signal_is_handed_to_the_schedulers_handler_after_the_save(tmp_path):
    """submitit installs a SIGUSR2 handler that requeues the job: it runs once the checkpoint is written."""
    calls = []

    def scheduler(signum, frame):  # stands in for submitit's checkpoint_and_try_requeue
        calls.append((signum, (tmp_path / "checkpoints" / "last.ckpt").exists()))

    previous = signal.signal(signal.SIGUSR2, scheduler)
    try:
        net = ToyConvNet()
        shutdown = GracefulShutdown()
        trainer = tiny_trainer(tmp_path, [shutdown], max_epochs=1, enable_checkpointing=False)
        trainer.fit(SignalsItself(net, signal.SIGUSR2, at_step=1), batches(6, net))
        assert signal.getsignal(signal.SIGUSR2) is scheduler  # restored after training
        assert calls == [] and shutdown.requeue_requested
        shutdown.hand_over()
        assert calls == [(signal.SIGUSR2, True)]
        shutdown.hand_over()  # once only
        assert len(calls) == 1
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_signals_by_name_and_bad_names():
    shutdown = GracefulShutdown(signals=["SIGTERM", "USR1"], requeue_signals=["usr1"])
    assert shutdown.signals == (signal.SIGTERM, signal.SIGUSR1)
    assert shutdown.requeue_signals == (signal.SIGUSR1,)
    with pytest.raises(ValueError, match="unknown signal 'SIGFOO'"):
        GracefulShutdown(signals=["SIGFOO"])


def test_bad_filename_is_rejected():
    with pytest.raises(ValueError, match="plain file name"):
        GracefulShutdown(filename="sub/last.ckpt")


SCRIPT = """
import sys, time
from pathlib import Path
from _callback_toys import ToyConvNet, ToyTask, batches, tiny_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from e3lab.callbacks import AtomicCheckpointIO, GracefulShutdown

out = Path(sys.argv[1])

class Slow(ToyTask):
    def training_step(self, batch, batch_idx):
        if self.global_step == 2:
            (out / "started").touch()
        time.sleep(0.02)
        return super().training_step(batch, batch_idx)

net = ToyConvNet()
callbacks = [GracefulShutdown(), ModelCheckpoint(dirpath=out / "ckpt")]
trainer = tiny_trainer(out, callbacks, max_epochs=100000, limit_val_batches=0, plugins=[AtomicCheckpointIO()])
trainer.fit(Slow(net), batches(8, net))
print(f"fit returned at step {trainer.global_step}", flush=True)
"""


@pytest.mark.slow
def test_sigterm_to_a_training_subprocess_exits_0_with_a_loadable_last_ckpt(tmp_path):
    script = tmp_path / "train_tiny.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOYS_DIR), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "training did not start within 120 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "fit returned at step" in output, output
    checkpoint = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] >= 3
    assert f"fit returned at step {checkpoint['global_step']}" in output
    assert "state_dict" in checkpoint and "optimizer_states" in checkpoint
