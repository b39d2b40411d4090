"""Second derivatives on the Triton kernels against the reference (the generated second-order kernels and
the composition of first-order ones). Without a GPU they run in Triton's interpreter (tests/conftest.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator

import pytest
import torch
from tests.o3.products import fusable_cases, uvu_product

from e3lab.o3 import TensorProduct, set_native
from e3lab.o3._tensor_product import tensor_product_reference
from e3lab.o3._tensor_product._switches import set_triton
from e3lab.o3._tensor_product._triton_tp import TritonTensorProduct

HAS_TRITON = importlib.util.find_spec("triton") is not None
HAS_CUDA = torch.cuda.is_available()
DEVICES = [
    pytest.param(
        "cpu", marks=pytest.mark.skipif(not HAS_TRITON or HAS_CUDA, reason="interpreter run: triton, no GPU")
    ),
    pytest.param(
        "cuda",
        marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA or not HAS_TRITON, reason="needs CUDA")],
    ),
]
CASES = [*fusable_cases()[:3], ("blocked", uvu_product("40x0e + 40x1o", "0e + 1o + 2e", lmax=2))]


@pytest.fixture(params=DEVICES)
def device(request) -> Iterator[torch.device]:
    if request.param == "cpu":
        set_native(False)
        set_triton("interpret")
    yield torch.device(request.param)
    set_native(True)
    set_triton(True)


def _reference(tp: TensorProduct, edges: tuple | None) -> Callable:
    def product(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if edges is None:
            return tensor_product_reference(tp, x, y, w)
        src, dst, nodes = edges
        summand = tensor_product_reference(tp, x[src], y, w)
        return summand.new_zeros(nodes, summand.shape[1]).index_add(0, dst, summand)

    return product


def _derivatives(fn: Callable, inputs: list[torch.Tensor], wanted: list[int] | None = None) -> list:
    """Output, first derivatives and second derivatives (of a random linear function of the first ones,
    with respect to the inputs numbered ``wanted`` and the output gradient)."""
    gen = torch.Generator().manual_seed(3)

    def draw(like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=gen, dtype=like.dtype).to(like.device)

    out = fn(*inputs)
    g = draw(out).requires_grad_()
    first = torch.autograd.grad(out, inputs, g, create_graph=True)
    probe = sum((d * draw(d)).sum() for d in first)
    targets = [inputs[i] for i in (range(len(inputs)) if wanted is None else wanted)]
    return [out, *first, *torch.autograd.grad(probe, [*targets, g])]


def _close(fast: list, slow: list, tol: float = 1e-10) -> None:
    for a, b in zip(fast, slow, strict=True):
        assert (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item())


@pytest.mark.parametrize("targets", ["random", "sorted"])
@pytest.mark.parametrize(("name", "tp"), CASES, ids=[c[0] for c in CASES])
def test_triton_second_derivatives_match_reference(float64, device, name, tp, targets) -> None:
    tp = tp.double().to(device)
    nodes, rows = 5, 2 * 16 + 3
    src = torch.randint(0, nodes, (rows,), device=device)
    dst = torch.randint(0, nodes, (rows,), device=device)
    edges = (src, dst.sort().values if targets == "sorted" else dst, nodes)
    dims = ((nodes, tp.irreps_in1.dim), (rows, tp.irreps_in2.dim), (rows, tp.weight_numel))
    inputs = [torch.randn(*d, device=device, requires_grad=True) for d in dims]
    fast = _derivatives(lambda *a: tp._triton.apply(*a, edges), inputs)
    _close(fast, _derivatives(_reference(tp, edges), inputs))


def test_triton_second_derivatives_without_edges_and_partial(float64, device) -> None:
    tp = CASES[1][1].double().to(device)
    inputs = [torch.randn(19, d, device=device, requires_grad=True) for d in (tp.irreps_in1.dim, 16, 44)]
    inputs[1] = torch.randn(19, tp.irreps_in2.dim, device=device, requires_grad=True)
    inputs[2] = torch.randn(19, tp.weight_numel, device=device, requires_grad=True)
    for wanted in (None, [0], [1, 2]):  # all, or some of the second-order gradients
        fast = _derivatives(tp._triton.apply, inputs, wanted)
        _close(fast, _derivatives(_reference(tp, None), inputs, wanted))


def test_generated_second_order_kernels_run_and_equal_the_composition(float64, device, monkeypatch) -> None:
    tp = CASES[0][1].double().to(device)
    parts = []
    original = TritonTensorProduct.second_order_kernel

    def spy(self, present, part):
        parts.append(part)
        return original(self, present, part)

    monkeypatch.setattr(TritonTensorProduct, "second_order_kernel", spy)
    edges = (torch.tensor([0, 1, 1, 2], device=device), torch.tensor([2, 0, 2, 2], device=device), 3)
    dims = ((3, tp.irreps_in1.dim), (4, tp.irreps_in2.dim), (4, tp.weight_numel))
    inputs = [torch.randn(*d, device=device, requires_grad=True) for d in dims]
    fused = _derivatives(lambda *a: tp._triton.apply(*a, edges), inputs)
    assert parts == ["g", "xyw"]  # one kernel for the output gradient's gradient, one for the inputs'
    monkeypatch.setattr(TritonTensorProduct, "double_backward", None)  # first-order kernels, composed
    _close(fused, _derivatives(lambda *a: tp._triton.apply(*a, edges), inputs), 1e-12)


def test_triton_gradgradcheck(float64, device) -> None:
    tp = uvu_product("2x0e + 2x1o", "0e + 1o", lmax=1).double().to(device)
    edges = (torch.tensor([0, 1, 1], device=device), torch.tensor([1, 0, 1], device=device), 2)
    dims = ((2, tp.irreps_in1.dim), (3, tp.irreps_in2.dim), (3, tp.weight_numel))
    inputs = [torch.randn(*d, device=device, requires_grad=True) for d in dims]
    # atomic adds sum in varying order: equal to rounding only
    assert torch.autograd.gradgradcheck(lambda *a: tp._triton.apply(*a, edges), inputs, nondet_tol=1e-12)
