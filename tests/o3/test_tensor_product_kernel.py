"""Fast TP kernel, per-sample weights in one stacked ``bmm`` (``block_layout``): values, gradients, when."""

from __future__ import annotations

import pytest
import torch

from e3lab.o3 import FullyConnectedTensorProduct, TensorProduct, rand_matrix
from e3lab.o3._tensor_product import tensor_product_reference

# All paths weighted uvw with one mul_out: the stacked layout applies. Cases: spherical-harmonics operand
# (mul2 == 1, the MACE shape), mul2 > 1 (general pair route), and paths whose weight blocks interleave
# between output groups (gaps filled with zero blocks).
BLOCK_CASES = [
    ("3x0e + 2x1o + 2x2e", "0e + 1o + 2e", "2x0e + 2x1o + 2x2e"),
    ("2x0e + 2x1o", "2x0e + 1x1o", "2x0e + 2x1o"),
    ("2x1o + 2x0e", "1x1o + 1x0e", "2x0e + 2x1o"),
]


def _tp(irreps: tuple[str, str, str]) -> FullyConnectedTensorProduct:
    return FullyConnectedTensorProduct(*irreps, shared_weights=False)


def _inputs(tp: TensorProduct, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.randn(batch, tp.irreps_in1.dim),
        torch.randn(batch, tp.irreps_in2.dim),
        torch.randn(batch, tp.weight_numel),
    )


@pytest.mark.parametrize("irreps", BLOCK_CASES)
def test_stacked_layout_matches_reference_and_is_equivariant(float64, irreps: tuple[str, str, str]) -> None:
    tp = _tp(irreps)
    assert tp.kernel.block_starts is not None
    x, y, w = _inputs(tp, batch=7)
    out = tp(x, y, w)
    assert (out - tensor_product_reference(tp, x, y, w)).abs().max() < 1e-12
    for sign in (1.0, -1.0):
        R = sign * rand_matrix()
        D1, D2, Dout = (irreps.D_from_matrix(R) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out))
        assert (tp(x @ D1.T, y @ D2.T, w) - out @ Dout.T).abs().max() < 1e-10


@pytest.mark.parametrize("irreps", BLOCK_CASES[1:])
def test_stacked_layout_gradcheck_and_gradgradcheck(float64, irreps: tuple[str, str, str]) -> None:
    tp = _tp(irreps)
    inputs = tuple(t.requires_grad_() for t in _inputs(tp, batch=2))
    assert torch.autograd.gradcheck(tp, inputs)
    assert torch.autograd.gradgradcheck(tp, inputs)


def test_stacked_layout_gradients_match_reference(float64) -> None:
    tp = _tp(BLOCK_CASES[0])
    x, y, w = (t.requires_grad_() for t in _inputs(tp, batch=5))
    g = torch.randn(5, tp.irreps_out.dim)
    fast = torch.autograd.grad(tp(x, y, w), (x, y, w), g)
    slow = torch.autograd.grad(tensor_product_reference(tp, x, y, w), (x, y, w), g)
    assert all((a - b).abs().max() < 1e-12 for a, b in zip(fast, slow, strict=True))


def test_stacked_layout_float32_and_empty_batch() -> None:
    tp = _tp(BLOCK_CASES[0])
    x, y, w = _inputs(tp, batch=4)
    reference = tensor_product_reference(tp.double(), x.double(), y.double(), w.double())
    out32 = tp.float()(x, y, w).double()
    assert ((out32 - reference).norm() / reference.norm()).item() < 1e-5
    assert tp(*(t[:0] for t in (x, y, w))).shape == (0, tp.irreps_out.dim)


def test_stacked_layout_only_where_it_applies() -> None:
    assert _tp(("32x0e + 32x1o + 32x2e", "0e + 1o + 2e", "32x0e + 32x1o + 32x2e")).kernel.block_starts == [
        0,
        1,
        4,
    ]
    assert (
        _tp(("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e")).kernel.block_starts is None
    )  # mul_out differ
    assert _tp(("2x0e", "2x0e", "2x0e")).kernel.block_starts is None  # one group: nothing to stack
    # 8 rows for k = 1 next to 1 row for k = 9: the zero blocks would cost 5x
    assert _tp(("8x0e + 1x4e", "0e", "2x0e + 2x4e")).kernel.block_starts is None
    ins = [(0, 0, 0, "uvw", True), (1, 1, 0, "uvu", True), (1, 0, 1, "uvw", True)]
    mixed = TensorProduct("2x0e + 2x1o", "2x0e + 2x1o", "2x0e + 2x1o", ins, shared_weights=False)
    assert mixed.kernel.block_starts is None  # not all paths uvw


def test_stack_blocks_places_values_and_gradients(float64) -> None:
    from e3lab.o3._tensor_product._stack import stack_blocks

    a, b = torch.randn(2, 1, 3, requires_grad=True), torch.randn(2, 2, 2, requires_grad=True)
    out = stack_blocks([a, b], [(0, 1), (1, 0)], (3, 4))
    expected = torch.zeros(2, 3, 4)
    expected[:, 0:1, 1:4], expected[:, 1:3, 0:2] = a.detach(), b.detach()
    assert torch.equal(out, expected)
    g = torch.randn(2, 3, 4)
    ga, gb = torch.autograd.grad(out, (a, b), g)
    assert torch.equal(ga, g[:, 0:1, 1:4]) and torch.equal(gb, g[:, 1:3, 0:2])
    assert torch.autograd.gradgradcheck(
        lambda p, q: stack_blocks([p, q], [(0, 1), (1, 0)], (3, 4)) ** 2, (a, b)
    )
