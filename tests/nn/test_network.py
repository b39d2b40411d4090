"""EquivariantConvNet: the symmetry-breaking tutorial's defaults, the stacked formula of the convolution
guide (explicit loop), E(3) and permutation equivariance, batching, profiler stage names (forward and
backward), input validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from e3lab import o3
from e3lab.graph import radius_graph
from e3lab.math import soft_one_hot_linspace
from e3lab.nn import STAGES, EquivariantConvNet
from e3lab.o3 import set_native

SMALL = {
    "irreps_in": "2x0e + 1x1o",
    "irreps_hidden": "4x0e + 2x0o + 2x1o + 1x1e + 1x2e",
    "irreps_out": "1x0e + 1x1o",
}
SMALL_KW = {"lmax": 2, "max_radius": 1.7, "radial_hidden": 8, "num_neighbors": 3.0}


def _small_net(**kwargs: object) -> EquivariantConvNet:
    return EquivariantConvNet(**SMALL, **SMALL_KW, **kwargs)  # type: ignore[arg-type]


def test_defaults_follow_the_symmetry_breaking_tutorial() -> None:
    net = EquivariantConvNet()
    tutorial = "1x0e+1x1o+1x2e+1x3o+1x4e+1x5o"
    assert str(net.irreps_in) == str(net.irreps_out) == str(net.irreps_hidden) == tutorial
    assert len(net.convs) == 3 and len(net.gates) == 2
    assert all(str(g.irreps_out) == tutorial for g in net.gates)
    conv = net.convs[0]
    assert str(conv.irreps_sh) == tutorial and conv.self_interaction and conv.num_neighbors == 4.0
    assert conv.fc.hs == [3, 100, 100, conv.tp.weight_numel]
    # cosine basis with centres 0, 1.5, 3.0: each function peaks (value 1) on its centre
    emb = conv.radial_embedding(torch.tensor([0.0, 1.5, 3.0]))
    torch.testing.assert_close(emb / 3**0.5, torch.eye(3))
    # the tutorial's square: every point sees the 3 others, plus itself = 4 = z terms
    square = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]) - 0.5
    assert radius_graph(square, 3.0).shape[1] == 12
    x = torch.zeros(4, 36)
    x[:, 0] = 1.0
    assert net(x, square).shape == (4, 36)


def _loop_forward(net: EquivariantConvNet, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """The seed formula evaluated node by node, neighbour by neighbour, with the net's own weights."""
    n = len(pos)
    layers = list(net.convs)
    for k, conv in enumerate(layers):
        out = torch.zeros(n, conv.irreps_out.dim)
        for i in range(n):
            for j in range(n):
                x_ij = pos[i] - pos[j]
                if j != i and not x_ij.norm() < net.max_radius:
                    continue  # not a neighbour; j == i is the self-interaction term
                y = o3.spherical_harmonics(conv.irreps_sh, x_ij, normalize=True, normalization="component")
                emb = (
                    soft_one_hot_linspace(x_ij.norm(), 0.0, net.max_radius, 3, basis="cosine", cutoff=False)
                    * 3**0.5
                )
                out[i] += conv.tp(x[j][None], y[None], conv.fc(emb)[None])[0]
        x = out / conv.num_neighbors**0.5
        if k < len(net.gates):
            x = net.gates[k](x)
    return x


def test_matches_explicit_loop(float64: None) -> None:
    net = _small_net()
    pos = torch.randn(7, 3)
    x = o3.Irreps(SMALL["irreps_in"]).randn(7, -1)
    out = net(x, pos)
    assert radius_graph(pos, 1.7).shape[1] > 0
    torch.testing.assert_close(out, _loop_forward(net, x, pos), rtol=0, atol=1e-10)


@pytest.mark.parametrize("self_interaction", [True, False])
def test_equivariance(float64: None, self_interaction: bool) -> None:
    net = _small_net(self_interaction=self_interaction)
    irreps_in, irreps_out = o3.Irreps(SMALL["irreps_in"]), o3.Irreps(SMALL["irreps_out"])
    pos = torch.randn(9, 3)
    x = irreps_in.randn(9, -1)
    out = net(x, pos)
    assert out.abs().max() > 1e-3
    for R in (o3.rand_matrix(), -o3.rand_matrix(), -torch.eye(3)):
        D_in, D_out = irreps_in.D_from_matrix(R), irreps_out.D_from_matrix(R)
        err = (net(x @ D_in.T, pos @ R.T) - out @ D_out.T).abs().max().item()
        assert err < 1e-10, err
    assert (net(x, pos + 10 * torch.randn(3)) - out).abs().max().item() < 1e-10
    perm = torch.randperm(9)
    assert (net(x[perm], pos[perm]) - out[perm]).abs().max().item() < 1e-10


def test_batching_equals_one_by_one(float64: None) -> None:
    net = _small_net()
    pos_a, pos_b = torch.randn(5, 3), torch.randn(6, 3) * 0.8  # overlapping clouds: no cross edges
    x_a, x_b = torch.randn(5, 5), torch.randn(6, 5)
    batch = torch.tensor([0] * 5 + [1] * 6)
    batched = net(torch.cat([x_a, x_b]), torch.cat([pos_a, pos_b]), batch)
    separate = torch.cat([net(x_a, pos_a), net(x_b, pos_b)])
    torch.testing.assert_close(batched, separate, rtol=0, atol=1e-10)
    # a given edge_index is used as is
    edge_index = radius_graph(pos_a, 1.7)
    torch.testing.assert_close(net(x_a, pos_a, edge_index=edge_index), net(x_a, pos_a), rtol=0, atol=1e-12)


@pytest.mark.parametrize("native", [True, False])
def test_profiler_sees_every_stage_forward_and_backward(native: bool) -> None:
    """Every stage is seen, except ``scatter`` when the native CPU kernel fuses it into the tensor product."""
    net = _small_net()
    pos = torch.randn(8, 3, requires_grad=True)
    set_native(native)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            net(torch.randn(8, 5, requires_grad=True), pos).pow(2).sum().backward()
    finally:
        set_native(True)
    events = list(prof.events())
    stages = set(STAGES) - ({"scatter"} if native else set())
    # forward: every stage is a record_function range, run once per layer
    names = [e.name for e in events]
    assert stages <= set(names) and ("scatter" in names) != native
    assert names.count("tensor_product") == len(net.convs) and names.count("gate") == len(net.gates)

    # backward: each backward node carries the sequence number of the forward op that created it,
    # so its time belongs to the stage range that encloses that op (as the timing callback counts it)
    def enclosing(event: Any, accept: Callable[[str], bool]) -> str | None:
        while event is not None and not accept(event.name):
            event = event.cpu_parent
        return None if event is None else event.name

    def is_root(name: str) -> bool:
        return name.startswith("autograd::engine::evaluate_function")

    creators = {
        (e.thread, e.sequence_nr): enclosing(e, STAGES.__contains__)
        for e in events
        if e.sequence_nr >= 0 and enclosing(e, is_root) is None
    }
    roots = [e for e in events if is_root(e.name)]
    backward_stages = {creators.get((r.fwd_thread, r.sequence_nr)) for r in roots}
    assert stages - {"radius_graph"} <= backward_stages
    assert pos.grad is not None and torch.isfinite(pos.grad).all()


def test_no_grad_and_float32() -> None:
    net = _small_net()
    with torch.no_grad():
        out = net(torch.randn(6, 5), torch.randn(6, 3))
    assert out.shape == (6, 4) and out.dtype == torch.float32


def test_input_errors() -> None:
    net = _small_net()
    x, pos = torch.randn(6, 5), torch.randn(6, 3)
    with pytest.raises(ValueError, match=r"x must have shape \[N, irreps_in.dim\] = \[6, 5\]"):
        net(x[:, :4], pos)
    with pytest.raises(ValueError, match=r"x must have shape"):
        net(x[:5], pos)
    bad = pos.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        net(x, bad)
    bad[2, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        net(x, bad)
    with pytest.raises(ValueError, match=r"pos must have shape \[N, 3\]"):
        net(x, pos[:, :2])
    with pytest.raises(ValueError, match="batch must have shape"):
        net(x, pos, batch=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="indices must lie in"):
        net(x, pos, edge_index=torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(TypeError, match="dtype"):
        net(x.double(), pos)
    with pytest.raises(ValueError, match="num_layers"):
        EquivariantConvNet(num_layers=0)
    with pytest.raises(ValueError, match="act_scalars needs an activation for parity"):
        EquivariantConvNet(act_scalars={1: torch.relu})


def test_graph_is_checked_once_per_forward_not_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each index check is a device sync: the network checks edge_index once, its layers skip theirs."""
    from e3lab.nn import _backbone, _convolution

    calls = []

    def counting(edge_index: torch.Tensor, num_nodes: int) -> None:
        calls.append(num_nodes)

    monkeypatch.setattr(_backbone, "check_edge_index", counting)
    monkeypatch.setattr(_convolution, "check_edge_index", counting)
    net = EquivariantConvNet("1x0e", "0e+1o", "0e+1o", num_layers=3, lmax=1, radial_hidden=8)
    pos = torch.randn(5, 3)
    edge_index = radius_graph(pos, 3.0, max_num_neighbors=10)
    net(torch.ones(5, 1), pos, edge_index=edge_index)
    assert calls == [5]
