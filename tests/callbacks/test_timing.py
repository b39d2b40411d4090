"""TimingCallback: per-stage metrics, files, no effect on training, and its cost on other steps."""

from __future__ import annotations

import time

import pytest
import torch

from e3lab.callbacks import TimingCallback, profile_stages
from e3lab.callbacks._graph_inputs import graph_inputs
from e3lab.nn import STAGES, EquivariantConvNet
from e3lab.o3 import set_native

from ._callback_toys import ToyConvNet, ToyTask, batches, make_batch, tiny_trainer


def _fit(tmp_path, callbacks):
    torch.manual_seed(0)
    net = ToyConvNet()
    task = ToyTask(net)
    trainer = tiny_trainer(tmp_path, callbacks, max_steps=4, limit_val_batches=0)
    trainer.fit(task, batches(4, net))
    return trainer, net


def test_profiled_steps_log_every_stage_write_files_and_leave_training_unchanged(tmp_path):
    callback = TimingCallback(every_n_steps=2, warmup=1, stages=STAGES)
    trainer, net = _fit(tmp_path / "timed", [callback])
    _, reference = _fit(tmp_path / "plain", [])
    for p, q in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)

    for stage in (*STAGES, "other"):
        for suffix in ("fwd_ms", "bwd_ms", "ms"):
            assert f"timing/{stage}_{suffix}" in trainer.callback_metrics
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert metrics["timing/total_ms"] == pytest.approx(
        sum(metrics[f"timing/{s}_ms"] for s in (*STAGES, "other")), rel=1e-4
    )
    assert metrics["timing/tensor_product_fwd_ms"] > 0 and metrics["timing/tensor_product_bwd_ms"] > 0
    assert metrics["timing/gate_ms"] == 0.0  # the toy has no gate range
    for step in (2, 4):
        for suffix in ("csv", "md", "png"):
            assert (tmp_path / "timed" / "timing" / f"step_{step:07d}.{suffix}").stat().st_size > 0
    assert not (tmp_path / "timed" / "timing" / "step_0000001.csv").exists()
    csv_lines = (tmp_path / "timed" / "timing" / "step_0000004.csv").read_text().splitlines()
    assert csv_lines[0] == "stage,fwd_ms,bwd_ms,total_ms,share" and len(csv_lines) == 1 + 8 + 1


class CountingConvNet(ToyConvNet):
    """Updates a buffer and draws random numbers in every forward, like BatchNorm or dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x, pos, batch=None, edge_index=None):
        self.calls += 1
        return super().forward(x + 0 * torch.rand_like(x), pos, batch, edge_index)


def test_profile_stages_does_not_touch_grads_buffers_or_rng():
    net = CountingConvNet()
    inputs = graph_inputs(next(iter(batches(1, net))))
    state = torch.random.get_rng_state()
    breakdown, wall_ms = profile_stages(net, inputs, warmup=2, stages=STAGES)
    assert all(p.grad is None for p in net.parameters())
    assert float(net.calls) == 0
    assert torch.equal(torch.random.get_rng_state(), state)
    assert wall_ms > 0 and breakdown["tensor_product"]["total"] > 0


def test_non_profiled_steps_cost_microseconds():
    callback = TimingCallback(every_n_steps=1000, stages=STAGES)
    trainer = type("T", (), {"global_step": 7})()
    start = time.perf_counter()
    for _ in range(1000):
        callback.on_train_batch_end(trainer, None, None, None, 0)
    assert (time.perf_counter() - start) / 1000 < 1e-4


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="every_n_steps=0"):
        TimingCallback(every_n_steps=0, stages=STAGES)
    with pytest.raises(ValueError, match="warmup=-1"):
        TimingCallback(warmup=-1, stages=STAGES)


@pytest.mark.parametrize("native", [True, False])
def test_e3lab_conv_net_time_lands_in_its_stages_by_default(native: bool):
    """With the native CPU kernel the scatter is fused into the tensor product (its stage stays empty)."""
    net = EquivariantConvNet(
        "0e + 1o", "4x0e + 2x1o + 2x1e", "0e + 1o", num_layers=2, lmax=2, radial_hidden=16
    )
    inputs = graph_inputs(make_batch(sizes=(8, 9), net=net))
    set_native(native)
    try:
        breakdown, _ = profile_stages(net, inputs, warmup=1)
    finally:
        set_native(True)
    assert list(breakdown) == [*STAGES, "other"]
    fused = {"scatter"} if native else set()
    for stage in STAGES:
        assert (breakdown[stage]["fwd"] > 0) == (stage not in fused), stage
    for stage in ("radial_mlp", "tensor_product", "scatter", "gate"):
        assert (breakdown[stage]["bwd"] > 0) == (stage not in fused), stage
    stage_time = sum(t["total"] for s, t in breakdown.items() if s != "other")
    assert breakdown["other"]["total"] < stage_time


@pytest.mark.slow
def test_wandb_logger_receives_the_table_and_the_bar_chart(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    net = ToyConvNet()
    logger = WandbLogger(save_dir=tmp_path, offline=True, project="e3lab-tests")
    trainer = tiny_trainer(
        tmp_path, [TimingCallback(every_n_steps=2)], max_steps=2, limit_val_batches=0, logger=logger
    )
    try:
        trainer.fit(ToyTask(net), batches(2, net))
    finally:
        wandb.finish()
    media = tmp_path / "wandb"
    assert list(media.rglob("media/images/timing/breakdown_*.png"))
    assert list(media.rglob("media/table/timing/table_*.table.json"))


def test_a_network_without_stage_ranges_triggers_one_warning(tmp_path):
    net = ToyConvNet()
    callback = TimingCallback(every_n_steps=1, warmup=0, stages=("not_a_range",))
    trainer = tiny_trainer(tmp_path, [callback], max_steps=2, limit_val_batches=0)
    with pytest.warns(UserWarning, match="found none of the stage ranges") as record:
        trainer.fit(ToyTask(net), batches(2, net))
    assert sum("found none of the stage ranges" in str(w.message) for w in record) == 1
    assert callback.last_breakdown["other"]["total"] > 0
