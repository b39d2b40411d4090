"""TimingCallback on a potential: the force-training step, its phases (forces, double backward) per stage."""

from __future__ import annotations

import pytest
import torch

from e3lab.callbacks import TimingCallback, _timing, attribute_stages, profile_force_step
from e3lab.nn import STAGES

from ._callback_toys import tiny_trainer
from ._potential_toys import ToyPotential, loader, real_potential, structures

CONV_STAGES = ("spherical_harmonics", "radial_embedding", "radial_mlp", "tensor_product", "scatter", "gate")


class _OneMillisecondPerOp:
    """A profiler event that reports 1 ms of CPU time: attribution by op count, immune to machine load."""

    def __init__(self, event) -> None:
        self._event = event
        self.self_cpu_time_total = 1000.0
        self.self_device_time_total = 0.0

    def __getattr__(self, name):
        return getattr(self._event, name)


def test_force_step_has_forces_and_double_backward_phases_in_the_conv_stages(monkeypatch):
    captured = []

    def spy(events, stages):
        captured.append(list(events))
        return attribute_stages(captured[-1], stages)

    monkeypatch.setattr(_timing, "attribute_stages", spy)
    torch.manual_seed(0)
    model = ToyPotential()
    breakdown, wall_ms = profile_force_step(
        model, structures(("bulk", "bulk", "slab")), warmup=1, stages=STAGES
    )
    assert list(breakdown["tensor_product"]) == ["fwd", "forces", "bwd", "total"]
    # the attributed self times account for the profiled step (the rest: Python between ops, profiler)
    total = sum(t["total"] for t in breakdown.values())
    assert 0.3 * wall_ms < total <= 1.05 * wall_ms, (total, wall_ms)
    assert all(p.grad is None for p in model.parameters())

    ops = attribute_stages([_OneMillisecondPerOp(e) for e in captured[0]], STAGES)
    for stage in (
        "spherical_harmonics",
        "radial_embedding",
        "radial_mlp",
        "tensor_product",
        "scatter",
        "gate",
    ):
        for phase in ("fwd", "forces", "bwd"):
            assert ops[stage][phase] > 0, (stage, phase, ops[stage])
    # second-order work lands in the stage it differentiates; "other" keeps the readout, the edge vectors
    # and F = -grad (without the creator chain, most of the double backward would be "other")
    conv_bwd = sum(ops[s]["bwd"] for s in CONV_STAGES)
    assert ops["other"]["bwd"] < 0.25 * conv_bwd, ops


def test_interatomic_potential_force_step_is_split_into_phases(monkeypatch):
    captured = []
    monkeypatch.setattr(_timing, "attribute_stages", lambda events, stages: captured.append(list(events)))
    model = real_potential().train()
    profile_force_step(model, structures(("bulk", "slab")), warmup=0, stages=STAGES)
    ops = attribute_stages([_OneMillisecondPerOp(e) for e in captured[0]], STAGES)
    for stage in ("spherical_harmonics", "radial_mlp", "tensor_product"):
        assert min(ops[stage][phase] for phase in ("fwd", "forces", "bwd")) > 0, (stage, ops[stage])


def test_stress_training_is_profiled_when_the_batch_has_stress():
    torch.manual_seed(0)
    model = ToyPotential()
    batch = structures(("bulk", "bulk"))
    plain, _ = profile_force_step(model, batch, warmup=0, stages=STAGES)
    batch.stress = torch.zeros(2, 3, 3)
    with_stress, _ = profile_force_step(model, batch, warmup=0, stages=STAGES)
    # stress and forces come from one gradient pass inside the "forces" range
    assert list(with_stress["other"]) == ["fwd", "forces", "bwd", "total"]
    assert with_stress["tensor_product"]["forces"] > 0 and plain["tensor_product"]["forces"] > 0


def test_callback_on_a_potential_logs_phase_metrics_and_files_and_leaves_training_unchanged(tmp_path):
    def fit(path, callbacks):
        torch.manual_seed(0)
        model = ToyPotential()
        trainer = tiny_trainer(path, callbacks, max_steps=4, limit_val_batches=0, inference_mode=False)
        trainer.fit(model, loader(4))
        return trainer, model

    callback = TimingCallback(every_n_steps=2, warmup=1)
    trainer, model = fit(tmp_path / "timed", [callback])
    _, reference = fit(tmp_path / "plain", [])
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for key in (
        "timing/total_fwd_ms",
        "timing/total_forces_ms",
        "timing/total_bwd_ms",
        "timing/tensor_product_forces_ms",
    ):
        assert metrics[key] > 0, key
    assert metrics["timing/total_ms"] == pytest.approx(
        metrics["timing/total_fwd_ms"] + metrics["timing/total_forces_ms"] + metrics["timing/total_bwd_ms"],
        rel=1e-4,
    )
    stem = tmp_path / "timed" / "timing" / "step_0000004"
    assert (
        stem.with_suffix(".csv").read_text().splitlines()[0] == "stage,fwd_ms,forces_ms,bwd_ms,total_ms,share"
    )
    markdown = stem.with_suffix(".md").read_text()
    assert "ToyPotential force step" in markdown and "double backward (loss) (ms)" in markdown
    assert stem.with_suffix(".png").stat().st_size > 1000
    assert list(callback.last_breakdown["scatter"]) == ["fwd", "forces", "bwd", "total"]
