"""FiniteLossGuard and AtomicCheckpointIO: a bad loss or a crash mid-save keeps the last good checkpoint."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from e3lab.callbacks import AtomicCheckpointIO, FiniteLossGuard, NonFiniteLossError

from ._callback_toys import ToyConvNet, ToyTask, batches, tiny_trainer


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    net = ToyConvNet()
    checkpoint = ModelCheckpoint(
        dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=1, save_top_k=0
    )
    trainer = tiny_trainer(
        tmp_path,
        [FiniteLossGuard(), checkpoint],
        max_steps=10,
        limit_val_batches=0,
        plugins=[AtomicCheckpointIO()],
    )
    with pytest.raises(
        NonFiniteLossError, match=r"training loss became nan at global step 3 \(epoch 0, batch 3\)"
    ):
        trainer.fit(ToyTask(net, nan_at_step=3), batches(10, net))
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the bad step never reached the weights


def test_non_finite_validation_loss_is_caught_before_checkpointing(tmp_path):
    class BadValidation(ToyTask):
        def validation_step(self, batch, batch_idx):
            self.log("val/loss", torch.tensor(float("inf")), batch_size=1)

    net = ToyConvNet()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer = tiny_trainer(tmp_path, [FiniteLossGuard(), checkpoint], max_epochs=1, limit_train_batches=2)
    with pytest.raises(NonFiniteLossError, match=r"val/loss=inf"):
        trainer.fit(BadValidation(net), batches(2, net), batches(1, net))
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "ckpt" / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    real_save = torch.save

    def crash_after_partial_write(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial checkpoint bytes")
        raise OSError("simulated crash mid-write")

    monkeypatch.setattr(torch, "save", crash_after_partial_write)
    with pytest.raises(OSError, match="simulated crash"):
        io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_atomic_io_replaces_and_loads(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "new" / "dir" / "last.ckpt"
    for step in (1, 2):
        io.save_checkpoint({"step": step}, path)
    assert io.load_checkpoint(path)["step"] == 2
    with pytest.raises(TypeError, match="storage_options"):
        io.save_checkpoint({"step": 3}, path, storage_options={"a": 1})
