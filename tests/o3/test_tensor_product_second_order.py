"""Second (and higher) derivatives of the native CPU kernels against the PyTorch reference: forward with
per-row weights, the fused weight matrix and the fused convolution; both C variants; forces of a small
convolution network by finite differences; equivariance; gradients nobody uses are not computed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from tests.o3.products import fusable_cases, uvu_product

from e3lab import nn as lab_nn
from e3lab.o3 import TensorProduct, rand_matrix
from e3lab.o3._tensor_product import tensor_product_reference
from e3lab.o3._tensor_product._autograd import Product

VARIANTS = ("", "_lanes")  # row kernel, lane kernel
CASES = fusable_cases()


@pytest.fixture
def variant_of() -> Iterator[Callable[[TensorProduct, str], TensorProduct]]:
    saved = []

    def force(tp: TensorProduct, variant: str) -> TensorProduct:
        saved.append((tp._native, tp._native.variant))
        tp._native.variant = variant
        return tp

    yield force
    for native, variant in saved:
        native.variant = variant


def _reference_convolve(tp, x, y, hidden, matrix, src, dst, num_nodes) -> torch.Tensor:
    summand = tensor_product_reference(tp, x[src], y, hidden @ matrix)
    return summand.new_zeros(num_nodes, summand.shape[1]).index_add(0, dst, summand)


def _derivatives(fn: Callable, inputs: list[torch.Tensor], seed: int = 1) -> list[torch.Tensor]:
    """Output, first derivatives (random output gradient ``g``) and second derivatives of a random linear
    function of the first ones, with respect to every input and ``g``, flattened into one list."""
    gen = torch.Generator().manual_seed(seed)

    def draw(like: torch.Tensor) -> torch.Tensor:  # float64 draws: the same numbers for every dtype
        return torch.randn(like.shape, generator=gen, dtype=torch.float64).to(like.dtype)

    out = fn(*inputs)
    g = draw(out).requires_grad_()
    first = torch.autograd.grad(out, inputs, g, create_graph=True)
    probe = sum((d * draw(d)).sum() for d in first)
    second = torch.autograd.grad(probe, [*inputs, g])
    return [out, *first, *second]


def _assert_close(fast: list[torch.Tensor], slow: list[torch.Tensor], tol: float) -> None:
    for a, b in zip(fast, slow, strict=True):
        assert a.shape == b.shape and (a - b).abs().max() <= tol * max(1.0, b.abs().max().item())


def _conv_inputs(tp: TensorProduct, nodes: int, edges: int, hidden: int = 5) -> tuple[list, tuple]:
    src, dst = torch.randint(0, nodes, (edges,)), torch.randint(0, nodes, (edges,))
    dims = [
        (nodes, tp.irreps_in1.dim),
        (edges, tp.irreps_in2.dim),
        (edges, hidden),
        (hidden, tp.weight_numel),
    ]
    return [torch.randn(*d, requires_grad=True) for d in dims], (src, dst, nodes)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("name", "tp"), CASES, ids=[c[0] for c in CASES])
def test_convolve_second_derivatives_match_reference(float64, variant_of, name, tp, variant) -> None:
    tp = variant_of(tp.double(), variant)
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=9, edges=37)
    fast = _derivatives(lambda *a: tp.convolve(*a, src, dst, n), inputs)
    slow = _derivatives(lambda *a: _reference_convolve(tp, *a, src, dst, n), inputs)
    _assert_close(fast, slow, 1e-10)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("name", "tp"), CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_product_and_fused_matrix_second_derivatives(float64, variant_of, name, tp, variant) -> None:
    tp = variant_of(tp.double(), variant)
    rows = 21
    dims = (tp.irreps_in1.dim, tp.irreps_in2.dim, tp.weight_numel)
    x, y, w = (torch.randn(rows, d, requires_grad=True) for d in dims)
    _assert_close(
        _derivatives(tp, [x, y, w]),
        _derivatives(lambda *a: tensor_product_reference(tp, *a), [x, y, w]),
        1e-10,
    )
    hidden, matrix = (
        torch.randn(rows, 4, requires_grad=True),
        torch.randn(4, tp.weight_numel, requires_grad=True),
    )
    fast = _derivatives(tp.forward_with_weight_matrix, [x, y, hidden, matrix])
    slow = _derivatives(lambda a, b, h, m: tensor_product_reference(tp, a, b, h @ m), [x, y, hidden, matrix])
    _assert_close(fast, slow, 1e-10)


@pytest.mark.parametrize("variant", VARIANTS)
def test_convolve_gradgradcheck_and_third_order(float64, variant_of, variant) -> None:
    tp = variant_of(uvu_product("2x0e + 2x1o", "0e + 1o + 2e", lmax=2).double(), variant)
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=3, edges=5, hidden=2)

    def conv(*a: torch.Tensor) -> torch.Tensor:
        return tp.convolve(*a, src, dst, n)

    assert torch.autograd.gradgradcheck(conv, inputs)

    def first(*a: torch.Tensor) -> tuple[torch.Tensor, ...]:  # its gradgradcheck is a third-order check
        return torch.autograd.grad(conv(*a).square().sum(), a, create_graph=True)

    assert torch.autograd.gradgradcheck(first, inputs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_second_derivatives_in_float32_are_close_to_float64(variant_of, variant) -> None:
    tp = variant_of(CASES[0][1], variant)
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=30, edges=200)
    fast = _derivatives(lambda *a: tp.convolve(*a, src, dst, n), inputs)
    tp.double()
    doubles = [t.detach().double().requires_grad_() for t in inputs]
    slow = _derivatives(lambda *a: _reference_convolve(tp, *a, src, dst, n), doubles)
    tp.float()
    for a, b in zip(fast, slow, strict=True):
        assert ((a.double() - b).norm() / b.norm()) < 1e-5


def test_two_threads_give_the_same_second_derivatives(float64) -> None:
    tp = CASES[0][1].double()
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=60, edges=2100)
    results = []
    previous = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            results.append(_derivatives(lambda *a: tp.convolve(*a, src, dst, n), inputs))
        finally:
            torch.set_num_threads(previous)
    _assert_close(results[1], results[0], 1e-11)


def _network(dtype: torch.dtype) -> tuple[torch.nn.ModuleList, torch.Tensor, torch.Tensor]:
    """Two seed convolutions ``4x0e -> 10x0e + 10x1e -> 20x0e + 10x1e`` on a small radius graph."""
    convs = torch.nn.ModuleList(
        [
            lab_nn.Convolution("4x0e", "10x0e + 10x1e", 4.0, 1.6, lmax=2),
            lab_nn.Convolution("10x0e + 10x1e", "20x0e + 10x1o", 4.0, 1.6, lmax=2),
        ]
    ).to(dtype)
    return convs, torch.randn(12, 4, dtype=dtype), torch.rand(12, 3, dtype=dtype) * 2.5


def _energy(convs: torch.nn.ModuleList, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    from e3lab.graph import radius_graph

    edge_index = radius_graph(pos.detach(), 1.6)
    h = convs[1](convs[0](x, pos, edge_index), pos, edge_index)
    return h[:, :20].sum()


def test_forces_equal_minus_energy_gradient_by_finite_differences(float64) -> None:
    convs, x, pos = _network(torch.float64)
    pos.requires_grad_()
    (forces,) = torch.autograd.grad(-_energy(convs, x, pos), pos, create_graph=True)
    assert isinstance(forces.grad_fn, torch.autograd.graph.Node)
    step, numeric = 1e-6, torch.zeros_like(pos)
    with torch.no_grad():
        for i in range(pos.shape[0]):
            for k in range(3):
                shift = torch.zeros_like(pos)
                shift[i, k] = step
                numeric[i, k] = -(_energy(convs, x, pos + shift) - _energy(convs, x, pos - shift)) / (
                    2 * step
                )
    assert (forces - numeric).abs().max() < 1e-7 * max(1.0, float(numeric.abs().max()))


def test_forces_and_their_training_gradient_are_equivariant(float64) -> None:
    convs, x, pos = _network(torch.float64)
    params = list(convs.parameters())

    def forces_and_gradient(p: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        p = p.clone().requires_grad_()
        (grad,) = torch.autograd.grad(_energy(convs, x, p), p, create_graph=True)
        return grad, torch.autograd.grad(grad.square().sum(), params)

    forces, grads = forces_and_gradient(pos)
    for sign in (1.0, -1.0):  # rotations, and rotations with the inversion
        rot = sign * rand_matrix(dtype=torch.float64)
        rotated, rotated_grads = forces_and_gradient(pos @ rot.T)
        assert (rotated - forces @ rot.T).abs().max() < 1e-10
        for a, b in zip(rotated_grads, grads, strict=True):
            assert (a - b).abs().max() < 1e-9 * max(1.0, float(b.abs().max()))


def test_forces_and_inference_stay_on_the_native_kernels(monkeypatch) -> None:
    convs, x, pos = _network(torch.float32)
    for conv in convs:  # the PyTorch kernel must not run at all
        monkeypatch.setattr(conv.tp.kernel, "forward", lambda *a, **k: pytest.fail("PyTorch kernel ran"))
    calls = []
    native = convs[1].tp._native
    original = type(native).backward

    def spy(self, *args, **kwargs):
        calls.append(kwargs["needs"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(native), "backward", spy)
    pos.requires_grad_()
    (forces,) = torch.autograd.grad(_energy(convs, x, pos), pos)  # inference: no graph kept
    assert forces.grad_fn is None and len(calls) == 2
    # forces need x (second layer only), y and hidden, not the weight matrix (not on the path to pos)
    assert [tuple(c) for c in calls] == [(True, True, False, True, False), (False, True, False, True, False)]
    calls.clear()
    (forces,) = torch.autograd.grad(_energy(convs, x, pos), pos, create_graph=True)
    assert forces.requires_grad and len(calls) == 2
    torch.autograd.grad(forces.square().sum(), list(convs.parameters()))
    assert len(calls) > 2  # the training gradient of the forces ran on the native backward again


def test_product_graph_is_made_of_the_kernels(float64) -> None:
    tp = CASES[0][1].double()
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=5, edges=11)
    out = tp.convolve(*inputs, src, dst, n)
    assert isinstance(out.grad_fn, Product._backward_cls)
    (gx,) = torch.autograd.grad(out.square().sum(), inputs[0], create_graph=True)
    kinds = set()
    stack = [gx.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and type(node).__name__ not in kinds:
            kinds.add(type(node).__name__)
            stack += [next_node for next_node, _ in node.next_functions]
    assert "ProductGradBackward" in kinds


def test_fused_double_backward_runs_when_no_graph_is_recorded(float64, monkeypatch) -> None:
    tp = CASES[0][1].double()
    native = tp._native
    calls = []
    original = type(native).double_backward

    def spy(self, *args, **kwargs):
        calls.append(True)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(native), "double_backward", spy)
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=5, edges=11)
    fused = _derivatives(lambda *a: tp.convolve(*a, src, dst, n), inputs)
    assert len(calls) == 1  # one pass for the whole second-order gradient
    monkeypatch.setattr(type(native), "double_backward", None)  # no fused pass: the composition
    composed = _derivatives(lambda *a: tp.convolve(*a, src, dst, n), inputs)
    _assert_close(fused, composed, 1e-12)


def test_no_grad_calls_with_leaves_that_require_grad(float64) -> None:
    tp = CASES[0][1].double()
    inputs, (src, dst, n) = _conv_inputs(tp, nodes=5, edges=11)
    with torch.no_grad():
        out = tp.convolve(*inputs, src, dst, n)
    assert not out.requires_grad
    assert (out - _reference_convolve(tp, *inputs, src, dst, n)).abs().max() < 1e-12
