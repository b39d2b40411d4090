"""torch.compile keeps the native kernels: they are custom operators (with fake implementations and autograd
formulas) in the compiled graph, forward, backward and double backward equal eager."""

from __future__ import annotations

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from e3lab import nn as lab_nn
from e3lab.graph import radius_graph
from e3lab.o3 import FullyConnectedTensorProduct


def _ops_in(graph: torch.fx.Graph) -> set[str]:
    return {str(n.target).split(".default")[0] for n in graph.nodes if str(n.target).startswith("e3lab.")}


def _convolve_inputs() -> tuple[FullyConnectedTensorProduct, list[torch.Tensor], tuple]:
    tp = FullyConnectedTensorProduct("4x0e + 2x1o", "0e + 1o + 2e", "6x0e + 4x1o", shared_weights=False)
    nodes, edges = 9, 40
    src, dst = torch.randint(0, nodes, (edges,)), torch.randint(0, nodes, (edges,))
    dims = [(nodes, tp.irreps_in1.dim), (edges, 9), (edges, 5), (5, tp.weight_numel)]
    return tp, [torch.randn(*d, requires_grad=True) for d in dims], (src, dst, nodes)


def test_compiled_convolve_is_one_graph_with_the_operator_and_equals_eager() -> None:
    tp, inputs, (src, dst, nodes) = _convolve_inputs()
    graphs = []

    def recording(gm: torch.fx.GraphModule, example_inputs) -> object:
        graphs.append(gm)
        return gm.forward

    def convolve(*a: torch.Tensor) -> torch.Tensor:
        return tp.convolve(*a, src, dst, nodes)

    compiled = torch.compile(convolve, backend=recording, fullgraph=True)
    out, ref = compiled(*inputs), convolve(*inputs)
    assert len(graphs) == 1 and _ops_in(graphs[0].graph) == {"e3lab.tp_product"}
    assert (out - ref).abs().max() < 1e-6
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g), strict=True):
        assert (a - b).abs().max() < 1e-5 * max(1.0, b.abs().max().item())


def _energy_and_forces(conv: lab_nn.Convolution, x: torch.Tensor, edge_index: torch.Tensor):
    def evaluate(pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        energy = conv(x, pos, edge_index, validate=False)[:, :6].sum()
        (grad,) = torch.autograd.grad(energy, pos, create_graph=True)
        return energy, -grad

    return evaluate


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_traced_and_compiled_forces_train_on_the_operators(backend: str) -> None:
    conv = lab_nn.Convolution("4x0e + 2x1o", "6x0e + 4x1o", 4.0, 1.5, lmax=2)
    pos = torch.rand(14, 3) * 2.5
    x = torch.randn(14, conv.irreps_in.dim)
    edge_index = radius_graph(pos, 1.5)
    evaluate = _energy_and_forces(conv, x, edge_index)
    traced = make_fx(evaluate)(pos.clone().requires_grad_())
    assert _ops_in(traced.graph) == {"e3lab.tp_product", "e3lab.tp_product_grad"}  # forward and forces
    compiled = torch.compile(traced, backend=backend)
    params = list(conv.parameters())
    results = []
    for fn in (compiled, evaluate):
        energy, forces = fn(pos.clone().requires_grad_())
        loss = energy.square() + forces.square().sum()  # its gradient is the double backward
        results.append([energy, forces, *torch.autograd.grad(loss, params)])
    for a, b in zip(*results, strict=True):
        assert (a - b).abs().max() < 1e-4 * max(1.0, b.abs().max().item())
