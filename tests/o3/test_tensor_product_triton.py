"""The Triton tensor-product kernels against the reference: values, gradients, the fused convolution,
equivariance, higher derivatives, switches. On a machine without a GPU they run in Triton's interpreter
(``E3LAB_TRITON=interpret``, set up by ``tests/conftest.py``); with CUDA they also run compiled."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import torch
from tests.o3.products import assert_kernel_matches_reference, fusable_cases, uvu_product

from e3lab import nn as lab_nn
from e3lab.o3 import FullyConnectedTensorProduct, TensorProduct, rand_matrix, set_native
from e3lab.o3._tensor_product import tensor_product_reference
from e3lab.o3._tensor_product._autograd import Product
from e3lab.o3._tensor_product._switches import set_triton, triton_mode
from e3lab.o3._tensor_product._triton_source import module_source
from e3lab.o3._tensor_product._triton_tp import _load_module

HAS_TRITON = importlib.util.find_spec("triton") is not None
HAS_CUDA = torch.cuda.is_available()

DEVICES = [
    pytest.param(
        "cpu",
        marks=pytest.mark.skipif(
            not HAS_TRITON or HAS_CUDA,
            reason="interpreter run: needs triton, and is for machines with no GPU",
        ),
    ),
    pytest.param(
        "cuda",
        marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA or not HAS_TRITON, reason="needs CUDA")],
    ),
]

CASES = [
    *fusable_cases(),
    ("blocked", uvu_product("40x0e + 40x1o", "0e + 1o + 2e", lmax=2)),  # several channel blocks
    (
        "partial",  # an unused input term, an output term no path reaches, unused y components
        TensorProduct(
            "3x0e + 2x1o + 2x2e",
            "0e + 1o + 2e",
            "4x0e + 2x1o + 3x2e",
            [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True), (1, 0, 1, "uvu", True)],
            shared_weights=False,
        ),
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> Iterator[torch.device]:
    """The device whose tensors take the Triton path: CUDA, or the CPU through Triton's interpreter."""
    if request.param == "cpu":
        set_native(False)  # the native kernel would take CPU tensors first
        set_triton("interpret")
    yield torch.device(request.param)
    set_native(True)
    set_triton(True)


def _inputs(tp: TensorProduct, rows: int, device: torch.device, requires_grad: bool = False) -> list:
    dims = (tp.irreps_in1.dim, tp.irreps_in2.dim, tp.weight_numel)
    return [torch.randn(rows, d, device=device).requires_grad_(requires_grad) for d in dims]


@pytest.mark.parametrize(("name", "tp"), CASES, ids=[c[0] for c in CASES])
def test_triton_matches_reference_values_and_gradients(float64, device, name, tp) -> None:
    assert_kernel_matches_reference(tp.double().to(device), 37, Product, device.type)


@pytest.mark.parametrize("targets", ["random", "sorted"])  # sorted: whole blocks share one target
@pytest.mark.parametrize(("name", "tp"), CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_triton_convolve_matches_gather_product_scatter(float64, device, name, tp, targets) -> None:
    tp = tp.double().to(device)
    nodes, edges = 5, 4 * 16 + 3
    x = torch.randn(nodes, tp.irreps_in1.dim, device=device, requires_grad=True)
    y = torch.randn(edges, tp.irreps_in2.dim, device=device, requires_grad=True)
    hidden = torch.randn(edges, 6, device=device, requires_grad=True)
    matrix = torch.randn(6, tp.weight_numel, device=device, requires_grad=True)
    src = torch.randint(0, nodes, (edges,), device=device)  # repeated sources and targets
    dst = torch.randint(0, nodes - 1, (edges,), device=device)  # the last node receives nothing
    if targets == "sorted":
        dst = dst.sort().values
    out = tp.convolve(x, y, hidden, matrix, src, dst, nodes)
    summand = tensor_product_reference(tp, x[src], y, hidden @ matrix)
    ref = summand.new_zeros(nodes, summand.shape[1]).index_add(0, dst, summand)
    assert (out - ref).abs().max() < 1e-12
    assert out[-1].abs().max() == 0
    g = torch.randn_like(out)
    fast = torch.autograd.grad(out, (x, y, hidden, matrix), g)
    slow = torch.autograd.grad(ref, (x, y, hidden, matrix), g)
    for a, b in zip(fast, slow, strict=True):
        assert (a - b).abs().max() < 1e-11


def test_triton_convolve_with_no_edges_gives_zeros_and_zero_gradients(device) -> None:
    tp = CASES[0][1].to(device)
    x = torch.randn(3, tp.irreps_in1.dim, device=device, requires_grad=True)
    y, hidden = torch.randn(0, tp.irreps_in2.dim, device=device), torch.randn(0, 2, device=device)
    matrix = torch.randn(2, tp.weight_numel, device=device, requires_grad=True)
    none = torch.zeros(0, dtype=torch.long, device=device)
    out = tp.convolve(x, y, hidden, matrix, none, none, 3)
    assert out.shape == (3, tp.irreps_out.dim) and out.abs().max() == 0
    gx, gm = torch.autograd.grad(out.sum(), (x, matrix))
    assert gx.abs().max() == 0 and gm.abs().max() == 0


def test_convolve_rejects_indices_on_another_device() -> None:
    tp = CASES[0][1]
    x, y = torch.randn(3, tp.irreps_in1.dim), torch.randn(2, tp.irreps_in2.dim)
    hidden, matrix = torch.randn(2, 2), torch.randn(2, tp.weight_numel)
    index = torch.zeros(2, dtype=torch.long, device="meta")
    with pytest.raises(ValueError, match="edge_src is on meta but x on cpu"):
        tp.convolve(x, y, hidden, matrix, index, index, 3)


def test_triton_float32_within_1e_5_of_float64_reference(device) -> None:
    tp = CASES[1][1].to(device)
    x, y, w = _inputs(tp, 300, device)
    out = tp(x, y, w)
    ref = tensor_product_reference(tp.double(), x.double(), y.double(), w.double())
    tp.float()
    assert ((out.double() - ref).norm() / ref.norm()) < 1e-5


def test_triton_partial_gradients(float64, device) -> None:
    tp = CASES[2][1].double().to(device)
    x, y, w = _inputs(tp, 9, device)
    w.requires_grad_()
    (gw,) = torch.autograd.grad(tp(x, y, w).square().sum(), w)
    (ref,) = torch.autograd.grad(tensor_product_reference(tp, x, y, w).square().sum(), w)
    assert (gw - ref).abs().max() < 1e-12


def test_backward_leaves_the_inputs_untouched_while_tuning(device, monkeypatch) -> None:
    monkeypatch.setenv("E3LAB_TRITON_AUTOTUNE", "1")  # the autotuner zeroes its gradient buffers per try
    tp = uvu_product("6x0e + 6x1o", "0e + 1o", lmax=1).to(device)  # a layout no other test tunes
    x, y, w = _inputs(tp, 50, device)
    before = (x.clone(), y.clone())
    w.requires_grad_()  # no gradient for x and y: their buffers are placeholders
    (gw,) = torch.autograd.grad(tp(x, y, w).square().sum(), w)
    assert torch.equal(x, before[0]) and torch.equal(y, before[1])
    (ref,) = torch.autograd.grad(tensor_product_reference(tp, x, y, w).square().sum(), w)
    assert (gw - ref).abs().max() < 1e-4


def test_triton_double_backward_recomputes_differentiably(float64, device) -> None:
    tp = CASES[3][1].double().to(device)
    x, y, w = _inputs(tp, 4, device, requires_grad=True)
    (gx,) = torch.autograd.grad(tp(x, y, w).square().sum(), x, create_graph=True)
    (ref_gx,) = torch.autograd.grad(
        tensor_product_reference(tp, x, y, w).square().sum(), x, create_graph=True
    )
    assert (gx - ref_gx).abs().max() < 1e-12
    second = torch.autograd.grad(gx.sum(), (y, w))
    ref_second = torch.autograd.grad(ref_gx.sum(), (y, w))
    for a, b in zip(second, ref_second, strict=True):
        assert (a - b).abs().max() < 1e-11


@pytest.mark.parametrize("parity", [1, -1])
def test_triton_equivariant_under_rotations_and_inversion(float64, device, parity) -> None:
    tp = CASES[1][1].double().to(device)
    x, y, w = _inputs(tp, 11, device)
    rotation = rand_matrix(dtype=torch.float64) * parity
    d1, d2, d_out = (
        irreps.D_from_matrix(rotation).to(device) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out)
    )
    assert (tp(x @ d1.T, y @ d2.T, w) - tp(x, y, w) @ d_out.T).abs().max() < 1e-12


def test_convolution_layer_takes_the_fused_triton_path(float64, device) -> None:
    conv = lab_nn.Convolution("4x0e + 2x1o", "3x0e + 2x1o + 1x2e", num_neighbors=3.0, max_radius=1.5).double()
    conv = conv.to(device)
    pos = torch.randn(12, 3, device=device)
    x = torch.randn(12, conv.irreps_in.dim, device=device, requires_grad=True)
    edge_index = torch.randint(0, 12, (2, 40), device=device)
    out = conv(x, pos, edge_index)
    ref = conv.stages(x, pos, edge_index).output
    assert conv.tp.fused_convolution_applies(x, ref, ref, ref)
    assert (out - ref).abs().max() < 1e-12
    g = torch.randn_like(out)
    (fast,) = torch.autograd.grad(out, x, g)
    (slow,) = torch.autograd.grad(ref, x, g)
    assert (fast - slow).abs().max() < 1e-12


def test_switch_off_takes_the_pytorch_kernel(device) -> None:
    tp = CASES[0][1].to(device)
    x, y, w = _inputs(tp, 3, device, requires_grad=True)
    assert tp.triton_applies(x, y, w)
    set_triton(False)
    assert triton_mode() == "0" and not tp.triton_applies(x, y, w)
    node = tp(x, y, w).grad_fn
    while not isinstance(node, Product._backward_cls) and node.next_functions:
        node = node.next_functions[0][0]
    assert not isinstance(node, Product._backward_cls)
    set_triton(True if device.type == "cuda" else "interpret")
    tp.fast_path = False  # the module's own switch wins
    assert not tp.triton_applies(x, y, w)


def test_products_with_one_layout_share_their_kernels(device) -> None:
    twin = FullyConnectedTensorProduct("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e", shared_weights=False)
    assert twin._triton.kernels() is CASES[0][1]._triton.kernels()  # one compilation and tuning per layout
    assert twin._triton.kernels() is not CASES[1][1]._triton.kernels()


@pytest.mark.skipif(not HAS_TRITON, reason="needs triton")
def test_generated_module_is_written_once_into_the_cache_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("E3LAB_CACHE_DIR", str(tmp_path))
    source = CASES[0][1]._triton.source + "\n# a variant only this test loads\n"
    module = _load_module(source)
    (written,) = (tmp_path / "triton").glob("tp_*.py")
    assert written.read_text() == source and callable(module.forward) and callable(module.backward)
    assert _load_module(source) is module


def test_set_triton_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="set_triton expects"):
        set_triton("gpu")


def test_shared_weights_or_weightless_paths_have_no_triton_kernels() -> None:
    assert FullyConnectedTensorProduct("2x0e", "0e", "2x0e")._triton is None  # shared weights
    tp = TensorProduct("2x0e", "0e", "2x0e", [(0, 0, 0, "uvu", False)], shared_weights=False)
    assert tp._triton is None


def test_products_too_large_to_unroll_stay_on_the_pytorch_kernel() -> None:
    irreps = "16x0e + 16x1o + 16x2e"  # per-edge uvw over 16 channels: about 6800 lines unrolled
    tp = FullyConnectedTensorProduct(irreps, "0e + 1o + 2e", irreps, shared_weights=False)
    assert tp._triton is None and tp._native is not None


def test_generated_source_is_deterministic_and_unrolled() -> None:
    spec = CASES[0][1]._triton.spec
    assert module_source(spec) == module_source(
        FullyConnectedTensorProduct(
            "10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e", shared_weights=False
        )._triton.spec
    )
    assert not spec.blocked and not spec.mixed_terms
    assert len(spec.paths) == 3 and CASES[2][1]._triton.spec.blocked
    source = module_source(spec)
    assert "def forward(" in source and "def backward(" in source and "for " not in source
