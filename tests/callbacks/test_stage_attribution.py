"""attribute_stages: forward by enclosing range, backward by autograd sequence number."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

from e3lab.callbacks import attribute_stages

STAGES = ("radial_mlp", "tensor_product", "scatter")
BWD = "autograd::engine::evaluate_function: "


class HeavyTensorProduct(torch.nn.Module):
    """Three ranges; "tensor_product" does a large matmul, the others tiny ops."""

    def __init__(self) -> None:
        super().__init__()
        self.mlp = torch.nn.Linear(8, 8)
        self.big = torch.nn.Parameter(torch.randn(384, 384) / 384**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with record_function("radial_mlp"):
            h = torch.tanh(self.mlp(x[:, :8]))
        with record_function("tensor_product"):
            y = (x @ self.big @ self.big).sin()
        with record_function("scatter"):
            out = y[:, :8].new_zeros(4, 8).index_add(0, torch.arange(len(x)) % 4, y[:, :8] * h)
        return out


def test_heavy_stage_gets_most_time_forward_and_backward():
    net = HeavyTensorProduct()
    x = torch.randn(256, 384)
    net(x)  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        out = net(x)
        torch.autograd.grad(out.sum(), list(net.parameters()))
    times = attribute_stages(prof.events(), STAGES)
    assert list(times) == [*STAGES, "other"]
    for direction in ("fwd", "bwd"):
        heaviest = max(times, key=lambda s: times[s][direction])
        assert heaviest == "tensor_product", (direction, times)
        assert times["tensor_product"][direction] > 0.5 * sum(t[direction] for t in times.values())
    # The small stages' backward is found too (their autograd nodes map back to them).
    assert times["radial_mlp"]["bwd"] > 0 and times["scatter"]["bwd"] > 0
    assert all(t["total"] == pytest.approx(t["fwd"] + t["bwd"]) for t in times.values())


def _event(name, parent=None, seq=-1, thread=1, fwd_thread=0, start=0.0, cpu=0.0, device=0.0):
    return SimpleNamespace(
        name=name,
        cpu_parent=parent,
        sequence_nr=seq,
        thread=thread,
        fwd_thread=fwd_thread,
        time_range=SimpleNamespace(start=start),
        self_cpu_time_total=cpu,
        self_device_time_total=device,
        device_type=DeviceType.CPU,
    )


def _synthetic_events():
    """Forward: tensor_product (a composite op and its leaf, both seq 7), gate > radial_mlp (nested
    ranges, op seq 8), a loose op (seq 9); backward on thread 2 of nodes 7 and 8, and a gradient
    accumulation (no sequence number); plus a device-side kernel event."""
    tp = _event("tensor_product", start=0, cpu=1)
    composite = _event("aten::matmul", tp, seq=7, start=1, cpu=2, device=20)
    leaf = _event("aten::mm", composite, seq=7, start=2, cpu=30, device=300)
    gate = _event("gate", start=10, cpu=1)
    inner = _event("radial_mlp", gate, start=11, cpu=1)  # a range nested inside another: innermost wins
    act = _event("aten::sigmoid", inner, seq=8, start=12, cpu=5, device=50)
    loose = _event("aten::sum", seq=9, start=20, cpu=4)
    bwd_tp = _event(BWD + "MmBackward0", seq=7, thread=2, fwd_thread=1, start=30, cpu=1)
    bwd_tp_op = _event("aten::mm", bwd_tp, thread=2, start=31, cpu=60, device=600)
    bwd_act = _event(BWD + "SigmoidBackward0", seq=8, thread=2, fwd_thread=1, start=40, cpu=7)
    bwd_acc = _event(BWD + "torch::autograd::AccumulateGrad", seq=-1, thread=2, start=50, cpu=3)
    gpu_kernel = _event("void gemm_kernel", start=2, cpu=0, device=999)
    gpu_kernel.device_type = DeviceType.CUDA  # device-side events are ignored (time comes via CPU ops)
    return [tp, composite, leaf, gate, inner, act, loose, bwd_tp, bwd_tp_op, bwd_act, bwd_acc, gpu_kernel]


def test_synthetic_events_cpu_time():
    times = attribute_stages(
        _synthetic_events(), ("tensor_product", "radial_mlp", "gate"), use_device_time=False
    )
    assert times["tensor_product"]["fwd"] == pytest.approx(33e-3)
    assert times["tensor_product"]["bwd"] == pytest.approx(61e-3)
    assert times["radial_mlp"]["fwd"] == pytest.approx(6e-3)
    assert times["radial_mlp"]["bwd"] == pytest.approx(7e-3)
    assert times["gate"] == {"fwd": pytest.approx(1e-3), "bwd": 0.0, "total": pytest.approx(1e-3)}
    assert times["other"]["fwd"] == pytest.approx(4e-3)
    assert times["other"]["bwd"] == pytest.approx(3e-3)


def test_synthetic_events_device_time_is_chosen_automatically():
    times = attribute_stages(_synthetic_events(), ("tensor_product", "radial_mlp", "gate"))
    assert times["tensor_product"]["fwd"] == pytest.approx(0.32)
    assert times["tensor_product"]["bwd"] == pytest.approx(0.6)
    assert times["radial_mlp"]["fwd"] == pytest.approx(0.05)


def test_last_forward_op_with_a_sequence_number_is_the_creator():
    early = _event("aten::view", _event("scatter", start=0), seq=3, start=1, cpu=1)
    creator = _event("aten::mul", _event("gate", start=5), seq=3, start=6, cpu=1)
    backward = _event(BWD + "MulBackward0", seq=3, thread=1, fwd_thread=1, start=9, cpu=10)
    times = attribute_stages([early, creator, backward], ("scatter", "gate"), use_device_time=False)
    assert times["gate"]["bwd"] == pytest.approx(10e-3) and times["scatter"]["bwd"] == 0.0


def test_reserved_stage_name_is_rejected():
    with pytest.raises(ValueError, match="reserved name 'other'"):
        attribute_stages([], ("other",))


def test_nodes_made_while_differentiating_belong_to_the_stage_they_differentiate():
    """A force step: node 7 (tensor_product) is differentiated inside the "forces" range with
    create_graph, which makes node 20; the loss's backward then runs node 20 (the double backward)."""
    forward = _event("aten::mm", _event("tensor_product", start=0), seq=7, start=1, cpu=10)
    forces = _event("forces", start=10, cpu=1)
    forces.time_range.end = 30
    first = _event(BWD + "MmBackward0", forces, seq=7, thread=1, fwd_thread=1, start=11, cpu=1)
    made = _event("aten::mm", first, seq=20, thread=1, start=12, cpu=20)
    # the engine thread of a GPU backward runs outside the range but inside its time window
    engine = _event(
        "aten::mul", _event(BWD + "MulBackward0", seq=99, thread=3, start=15), thread=3, start=16, cpu=5
    )
    second = _event(BWD + "MmBackward0", seq=20, thread=1, fwd_thread=1, start=40, cpu=2)
    second_op = _event("aten::mm", second, thread=1, start=41, cpu=40)
    events = [second_op, second, engine, made, first, forces, forward, forward.cpu_parent]
    times = attribute_stages(events, ("tensor_product",), use_device_time=False)
    assert list(times["tensor_product"]) == ["fwd", "forces", "bwd", "total"]
    assert times["tensor_product"]["fwd"] == pytest.approx(10e-3)
    assert times["tensor_product"]["forces"] == pytest.approx(21e-3)
    assert times["tensor_product"]["bwd"] == pytest.approx(42e-3)
    assert times["other"]["forces"] == pytest.approx(6e-3)  # the range itself and the unmatched engine op
    assert times["other"]["bwd"] == 0.0


def test_a_plain_step_has_only_forward_and_backward():
    times = attribute_stages(_synthetic_events(), ("tensor_product",), use_device_time=False)
    assert all(list(t) == ["fwd", "bwd", "total"] for t in times.values())
