"""The native CPU tensor product against the reference: values, gradients, higher derivatives, equivariance;
both C variants (row and lane kernels), the fused weight matrix, threads, and when it is (not) used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tests.o3.products import assert_kernel_matches_reference, fusable_cases

from e3lab._native import native_status
from e3lab.o3 import FullyConnectedTensorProduct, TensorProduct, rand_matrix, set_native
from e3lab.o3._tensor_product import tensor_product_reference
from e3lab.o3._tensor_product._autograd import Product
from e3lab.o3._tensor_product._native_tp import NativeTensorProduct

VARIANTS = ("", "_lanes")  # row kernel, lane kernel


CASES = fusable_cases()


@pytest.fixture
def variant_of() -> Iterator:
    """Force a C variant on a module's native tables (restored afterwards)."""
    saved: list[tuple[NativeTensorProduct, str]] = []

    def force(tp: TensorProduct, variant: str) -> TensorProduct:
        saved.append((tp._native, tp._native.variant))
        tp._native.variant = variant
        return tp

    yield force
    for native, variant in saved:
        native.variant = variant


def _inputs(tp: TensorProduct, rows: int, requires_grad: bool = False) -> list[torch.Tensor]:
    tensors = [torch.randn(rows, d) for d in (tp.irreps_in1.dim, tp.irreps_in2.dim, tp.weight_numel)]
    return [t.requires_grad_(requires_grad) for t in tensors]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("name", "tp"), CASES, ids=[c[0] for c in CASES])
def test_native_matches_reference_values_and_gradients(float64, variant_of, name, tp, variant) -> None:
    # 37 rows: two full lane blocks and a partial one
    assert_kernel_matches_reference(variant_of(tp.double(), variant), 37, Product)


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_float32_within_1e_5_of_float64_reference(variant_of, variant) -> None:
    tp = variant_of(CASES[1][1], variant)
    x, y, w = _inputs(tp, rows=300)
    out = tp(x, y, w)
    ref = tensor_product_reference(tp.double(), x.double(), y.double(), w.double())
    tp.float()
    assert ((out.double() - ref).norm() / ref.norm()) < 1e-5


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_fused_weight_matrix_matches_explicit_weights(float64, variant_of, variant) -> None:
    tp = variant_of(CASES[0][1].double(), variant)
    x, y, _ = _inputs(tp, rows=21, requires_grad=True)
    hidden = torch.randn(21, 7, requires_grad=True)
    matrix = torch.randn(7, tp.weight_numel, requires_grad=True)
    out = tp.forward_with_weight_matrix(x, y, hidden, matrix)
    ref = tensor_product_reference(tp, x, y, hidden @ matrix)
    assert (out - ref).abs().max() < 1e-12
    g = torch.randn_like(out)
    fast = torch.autograd.grad(out, (x, y, hidden, matrix), g)
    slow = torch.autograd.grad(ref, (x, y, hidden, matrix), g)
    for a, b in zip(fast, slow, strict=True):
        assert (a - b).abs().max() < 1e-11


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_gradcheck_and_double_backward(float64, variant_of, variant) -> None:
    tp = variant_of(CASES[1][1].double(), variant)
    inputs = tuple(_inputs(tp, rows=3, requires_grad=True))
    assert torch.autograd.gradcheck(tp, inputs)
    assert torch.autograd.gradgradcheck(tp, inputs)  # create_graph: the differentiable recomputation
    hidden, matrix = (
        torch.randn(3, 4, requires_grad=True),
        torch.randn(4, tp.weight_numel, requires_grad=True),
    )
    fused = (inputs[0], inputs[1], hidden, matrix)
    assert torch.autograd.gradgradcheck(tp.forward_with_weight_matrix, fused)


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_is_equivariant_under_rotations_and_inversion(float64, variant_of, variant) -> None:
    tp = variant_of(CASES[1][1].double(), variant)
    x, y, w = _inputs(tp, rows=20)
    for sign in (1.0, -1.0):
        rot = sign * rand_matrix()
        d1, d2, d_out = (
            irreps.D_from_matrix(rot) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out)
        )
        assert (tp(x @ d1.T, y @ d2.T, w) - tp(x, y, w) @ d_out.T).abs().max() < 1e-10


def test_native_partial_gradients_only_compute_what_is_asked(float64) -> None:
    tp = CASES[0][1].double()
    x, y, w = _inputs(tp, rows=40)
    y.requires_grad_()
    g = torch.randn(40, tp.irreps_out.dim)
    (gy,) = torch.autograd.grad(tp(x, y, w), y, g)
    (ref,) = torch.autograd.grad(tensor_product_reference(tp, x, y, w), y, g)
    assert (gy - ref).abs().max() < 1e-12


def test_native_splits_rows_between_threads_with_the_same_result(variant_of) -> None:
    tp = CASES[0][1]
    x, y, _ = _inputs(tp, rows=3000)
    hidden, matrix = torch.randn(3000, 8), torch.randn(8, tp.weight_numel, requires_grad=True)
    results = []
    previous = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            out = tp.forward_with_weight_matrix(x, y, hidden, matrix)
            results.append((out, torch.autograd.grad(out.square().sum(), matrix)[0]))
        finally:
            torch.set_num_threads(previous)
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-3)


def test_native_batch_dimensions_broadcast(float64) -> None:
    tp = CASES[0][1].double()
    x = torch.randn(4, 1, tp.irreps_in1.dim)
    y = torch.randn(5, tp.irreps_in2.dim)
    w = torch.randn(4, 5, tp.weight_numel)
    out = tp(x, y, w)
    assert out.shape == (4, 5, tp.irreps_out.dim)
    ref = tensor_product_reference(tp, x.expand(4, 5, -1), y.expand(4, 5, -1), w)
    assert (out - ref).abs().max() < 1e-12


def test_native_coverage_rules() -> None:
    supports = NativeTensorProduct.supports
    tp = CASES[0][1]
    args = (tp.irreps_in1, tp.irreps_in2, tp.irreps_out, tp.instructions)
    assert supports(*args, shared=False)
    assert not supports(*args, shared=True)  # shared weights: the PyTorch kernel's big matmuls
    mul2 = FullyConnectedTensorProduct("2x0e", "2x0e", "2x0e", shared_weights=False)
    assert mul2._native is None  # second operand with multiplicity > 1
    uuw = TensorProduct("2x1o", "2x1o", "2x0e", [(0, 0, 0, "uuw", True)], shared_weights=False)
    assert uuw._native is None
    unweighted = TensorProduct("2x1o", "1o", "2x0e", [(0, 0, 0, "uvu", False)], shared_weights=False)
    assert unweighted._native is None
    assert FullyConnectedTensorProduct("2x1o", "1o", "2x0e")._native is None  # shared by default


def test_native_switch_off_uses_the_pytorch_kernel() -> None:
    tp = CASES[0][1]
    x, y, w = _inputs(tp, rows=10, requires_grad=True)
    native = tp(x, y, w)
    set_native(False)
    try:
        pytorch = tp(x, y, w)
    finally:
        set_native(True)
    assert not isinstance(pytorch.grad_fn.next_functions[0][0], Product._backward_cls)
    assert torch.allclose(native, pytorch, atol=1e-5)
    with pytest.raises(TypeError, match="True or False"):
        set_native(1)  # type: ignore[arg-type]


def test_native_empty_batch_and_fast_path_off() -> None:
    tp = CASES[0][1]
    x, y, w = _inputs(tp, rows=0)
    assert tp(x, y, w).shape == (0, tp.irreps_out.dim)
    tp.fast_path = False
    try:
        x, y, w = _inputs(tp, rows=3, requires_grad=True)
        out = tp(x, y, w)
    finally:
        tp.fast_path = None
    assert not isinstance(out.grad_fn.next_functions[0][0], Product._backward_cls)


def test_forward_with_weight_matrix_rejects_bad_shapes() -> None:
    tp = CASES[0][1]
    x, y, _ = _inputs(tp, rows=4)
    with pytest.raises(ValueError, match="weight_numel"):
        tp.forward_with_weight_matrix(x, y, torch.randn(4, 3), torch.randn(3, tp.weight_numel + 1))
    with pytest.raises(ValueError, match="weight_numel"):
        tp.forward_with_weight_matrix(x, y, torch.randn(4, 2), torch.randn(3, tp.weight_numel))
    shared = FullyConnectedTensorProduct("2x1o", "1o", "2x0e")
    with pytest.raises(ValueError, match="per-sample"):
        shared.forward_with_weight_matrix(
            torch.randn(4, 6), torch.randn(4, 3), torch.randn(4, 2), torch.randn(2, 4)
        )


def test_native_library_is_loaded_and_reports_its_status() -> None:
    CASES[0][1](*_inputs(CASES[0][1], rows=2))
    assert native_status().get("tensor_product/float32") == "loaded"


def _explicit_convolve(tp, x, y, hidden, matrix, src, dst, num_nodes) -> torch.Tensor:
    summand = tensor_product_reference(tp, x[src], y, hidden @ matrix)
    return summand.new_zeros(num_nodes, summand.shape[1]).index_add(0, dst, summand)


def _edges(num_src: int, num_dst: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random edges with repeated sources and targets (several lanes of a block share a node)."""
    return torch.randint(0, num_src, (count,)), torch.randint(0, num_dst, (count,))


@pytest.mark.parametrize("variant", VARIANTS)
def test_convolve_gathers_and_scatters_like_index_add(float64, variant_of, variant) -> None:
    tp = variant_of(CASES[1][1].double(), variant)
    src, dst = _edges(num_src=9, num_dst=6, count=53)
    x = torch.randn(9, tp.irreps_in1.dim, requires_grad=True)
    y = torch.randn(53, tp.irreps_in2.dim, requires_grad=True)
    hidden = torch.randn(53, 5, requires_grad=True)
    matrix = torch.randn(5, tp.weight_numel, requires_grad=True)
    out = tp.convolve(x, y, hidden, matrix, src, dst, 6)
    assert isinstance(out.grad_fn, Product._backward_cls)
    ref = _explicit_convolve(tp, x, y, hidden, matrix, src, dst, 6)
    assert out.shape == (6, tp.irreps_out.dim) and (out - ref).abs().max() < 1e-12
    g = torch.randn_like(out)
    inputs = (x, y, hidden, matrix)
    for a, b in zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g), strict=True):
        assert (a - b).abs().max() < 1e-11


def test_convolve_double_backward_and_threads(float64) -> None:
    tp = CASES[0][1].double()
    src, dst = _edges(num_src=4, num_dst=3, count=5)
    inputs = (
        torch.randn(4, tp.irreps_in1.dim, requires_grad=True),
        torch.randn(5, tp.irreps_in2.dim, requires_grad=True),
        torch.randn(5, 3, requires_grad=True),
        torch.randn(3, tp.weight_numel, requires_grad=True),
    )
    assert torch.autograd.gradgradcheck(lambda *t: tp.convolve(*t, src, dst, 3), inputs)
    # two threads: per-thread node accumulators, summed
    src, dst = _edges(num_src=50, num_dst=40, count=2100)
    x, y = torch.randn(50, tp.irreps_in1.dim), torch.randn(2100, tp.irreps_in2.dim)
    hidden, matrix = torch.randn(2100, 3), torch.randn(3, tp.weight_numel)
    x.requires_grad_()
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = tp.convolve(x, y, hidden, matrix, src, dst, 40)
        (grad,) = torch.autograd.grad(out.square().sum(), x)
    finally:
        torch.set_num_threads(previous)
    ref = _explicit_convolve(tp, x, y, hidden, matrix, src, dst, 40)
    (ref_grad,) = torch.autograd.grad(ref.square().sum(), x)
    assert (out - ref).abs().max() < 1e-11 and (grad - ref_grad).abs().max() < 1e-10


def test_convolve_rejects_bad_indices() -> None:
    tp = CASES[0][1]
    x, y = torch.randn(4, tp.irreps_in1.dim), torch.randn(3, tp.irreps_in2.dim)
    hidden, matrix = torch.randn(3, 2), torch.randn(2, tp.weight_numel)
    ok = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"edge_src has indices outside \[0, 3\]"):
        tp.convolve(x, y, hidden, matrix, torch.tensor([0, 4, 1]), ok, 3)
    with pytest.raises(ValueError, match=r"edge_dst has indices outside \[0, 2\]"):
        tp.convolve(x, y, hidden, matrix, ok, torch.tensor([0, -1, 1]), 3)
    with pytest.raises(ValueError, match=r"edge_src must be an integer \[E\]"):
        tp.convolve(x, y, hidden, matrix, ok[:2], ok, 3)
