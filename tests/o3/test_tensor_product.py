"""TensorProduct: equivariance per mode, fast kernel vs reference, normalisation, gradcheck, errors."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from e3lab.o3 import (
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
    Irreps,
    TensorProduct,
    rand_matrix,
)
from e3lab.o3._tensor_product import tensor_product_reference

matplotlib.use("Agg")

# One case per connection mode, (irreps_in1, irreps_in2, irreps_out, instructions). Together they reach every
# fast kernel: x0 (l1 = 0), y0 (l2 = 0), dot (l_out = 0), xfirst and yfirst, and several paths per output.
MODE_CASES = {
    "uvw": (
        "2x0e + 3x1o + 2x2e",
        "2x0e + 1x1o + 2x2o",
        "3x0e + 2x1o + 2x1e + 2x2e",
        [
            (0, 0, 0, "uvw", True),
            (1, 1, 0, "uvw", True),
            (2, 2, 1, "uvw", True),
            (1, 0, 1, "uvw", True),
            (1, 1, 2, "uvw", True),
            (2, 0, 3, "uvw", True),
            (1, 1, 3, "uvw", True, 0.5),
        ],
    ),
    "uvu": (
        "3x0e + 2x1o + 2x2e",
        "2x0e + 2x1o + 1x2e",
        "3x0e + 2x1o + 2x2e + 2x1e + 2x0e",
        [
            (0, 0, 0, "uvu", True),
            (1, 1, 4, "uvu", False),
            (1, 0, 1, "uvu", True),
            (2, 1, 1, "uvu", True),
            (2, 2, 2, "uvu", True),
            (1, 1, 3, "uvu", True),
        ],
    ),
    "uvv": (
        "2x0e + 2x1o + 1x2e",
        "3x0e + 2x1o + 2x2e",
        "3x0e + 2x1o + 2x2e + 2x1e + 2x0e",
        [
            (0, 0, 0, "uvv", True),
            (1, 1, 4, "uvv", False),
            (0, 1, 1, "uvv", True),
            (1, 2, 1, "uvv", True),
            (2, 2, 2, "uvv", True),
            (1, 1, 3, "uvv", True),
        ],
    ),
    "uuw": (
        "2x0e + 2x1o + 2x2e",
        "2x0e + 2x1o + 2x2e",
        "3x0e + 1x0e + 2x1o + 2x2e + 2x1e",
        [
            (0, 0, 0, "uuw", True),
            (1, 1, 1, "uuw", False),
            (1, 1, 0, "uuw", True),
            (0, 1, 2, "uuw", True),
            (1, 2, 2, "uuw", True),
            (2, 2, 3, "uuw", True),
            (2, 2, 4, "uuw", True),
        ],
    ),
    "uuu": (
        "2x0e + 2x1o + 2x2e",
        "2x0e + 2x1o + 2x2e",
        "2x0e + 2x1o + 2x2e + 2x1e",
        [
            (0, 0, 0, "uuu", True),
            (1, 1, 0, "uuu", False),
            (1, 0, 1, "uuu", True),
            (1, 2, 1, "uuu", True),
            (2, 2, 2, "uuu", True),
            (1, 1, 3, "uuu", False),
        ],
    ),
    "uvuv": (
        "2x0e + 2x1o + 1x2e",
        "3x0e + 1x1o + 1x2e",
        "6x0e + 2x1o + 1x2e + 2x1e + 6x1o + 1x0e",
        [
            (0, 0, 0, "uvuv", True),
            (0, 1, 1, "uvuv", False),
            (1, 0, 4, "uvuv", True),
            (2, 2, 2, "uvuv", True),
            (1, 1, 3, "uvuv", True),
            (2, 2, 5, "uvuv", True),
        ],
    ),
}


def _inputs(tp: TensorProduct, batch: int = 6, shared: bool = True) -> tuple[torch.Tensor, ...]:
    x = torch.randn(batch, tp.irreps_in1.dim)
    y = torch.randn(batch, tp.irreps_in2.dim)
    w = torch.randn(tp.weight_numel) if shared else torch.randn(batch, tp.weight_numel)
    return x, y, w


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mode", list(MODE_CASES))
def test_equivariance_rotation_and_inversion(float64, mode: str, shared: bool) -> None:
    tp = TensorProduct(*MODE_CASES[mode], shared_weights=shared, internal_weights=False)
    x, y, w = _inputs(tp, shared=shared)
    for sign in (1.0, -1.0):
        R = sign * rand_matrix()
        D1, D2, Dout = (irreps.D_from_matrix(R) for irreps in (tp.irreps_in1, tp.irreps_in2, tp.irreps_out))
        error = (tp(x @ D1.T, y @ D2.T, w) - tp(x, y, w) @ Dout.T).abs().max()
        assert error < 1e-10, (mode, sign, error)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mode", list(MODE_CASES))
def test_fast_kernel_matches_reference(float64, mode: str, shared: bool) -> None:
    tp = TensorProduct(*MODE_CASES[mode], shared_weights=shared, internal_weights=False)
    x, y, w = _inputs(tp, shared=shared)
    assert (tp(x, y, w) - tensor_product_reference(tp, x, y, w)).abs().max() < 1e-12


def test_kernels_cover_all_specialisations() -> None:
    kernels = set()
    for case in MODE_CASES.values():
        tp = TensorProduct(*case)
        kernels |= {plan.kernel for group in tp.kernel.groups for plan in group}
    assert kernels == {"x0", "y0", "dot", "xfirst", "yfirst"}


def test_batch_dimensions_broadcast(float64) -> None:
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e + 1x1o", "2x0e + 2x1o", shared_weights=False)
    x = torch.randn(4, 1, tp.irreps_in1.dim)
    y = torch.randn(1, 3, tp.irreps_in2.dim)
    w = torch.randn(4, 3, tp.weight_numel)
    out = tp(x, y, w)
    assert out.shape == (4, 3, tp.irreps_out.dim)
    expected = tensor_product_reference(tp, x.expand(4, 3, -1), y.expand(4, 3, -1), w)
    assert (out - expected).abs().max() < 1e-12
    assert tp(x[0, 0], y[0, 0], w[0, 0][None])[0].allclose(out[0, 0])


def test_float32_runs_and_matches_float64() -> None:
    tp = FullyConnectedTensorProduct("3x0e + 2x1o + 1x2e", "1x0e + 1x1o + 1x2e", "2x0e + 2x1o + 2x2e")
    x, y, _ = _inputs(tp)
    out32 = tp(x, y)
    assert out32.dtype == torch.float32
    out64 = tp.double()(x.double(), y.double())
    assert (out32.double() - out64).abs().max() < 1e-5


@pytest.mark.parametrize("mode", ["fctp", "uvu"])
def test_normalization_second_moment_is_one(mode: str) -> None:
    irreps = "8x0e + 8x1o + 8x2e"
    if mode == "fctp":
        tp = FullyConnectedTensorProduct(irreps, "0e + 1o + 2e", irreps)
    else:
        ins = [
            (i1, i2, io, "uvu", True)
            for i1, (_, a) in enumerate(Irreps(irreps))
            for i2, (_, b) in enumerate(Irreps("4x0e + 4x1o + 4x2e"))
            for io, (_, c) in enumerate(Irreps(irreps))
            if i1 == io and c in list(a * b)
        ]
        tp = TensorProduct(irreps, "4x0e + 4x1o + 4x2e", irreps, ins)
    moments = []
    for _ in range(16):  # fresh N(0, 1) weights each time: E over weights and inputs
        with torch.no_grad():
            tp.weight.normal_()
            x = torch.randn(500, tp.irreps_in1.dim)
            y = torch.randn(500, tp.irreps_in2.dim)
            moments.append(tp(x, y).pow(2).mean(0))
    per_component = torch.stack(moments).mean(0)
    assert abs(per_component.mean().item() - 1) < 0.1
    assert per_component.min() > 0.5 and per_component.max() < 1.6


@pytest.mark.parametrize("mode", ["uvw", "uvu", "uuu"])
def test_gradcheck(float64, mode: str) -> None:
    ins = [(0, 0, 0, mode, True), (1, 1, 0, mode, True), (1, 0, 1, mode, True), (1, 1, 2, mode, True)]
    tp = TensorProduct("2x0e + 2x1o", "2x0e + 2x1o", "2x0e + 2x1o + 2x1e", ins, shared_weights=False)
    x, y, w = _inputs(tp, batch=2, shared=False)
    inputs = tuple(t.requires_grad_() for t in (x, y, w))
    assert torch.autograd.gradcheck(tp, inputs)


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager() -> None:
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e + 1x1o", "2x0e + 1x1o", shared_weights=False)
    x, y, w = _inputs(tp, batch=5, shared=False)
    compiled = torch.compile(tp, fullgraph=True)
    assert (compiled(x, y, w) - tp(x, y, w)).abs().max() < 1e-5


def test_weights_internal_shared_and_views() -> None:
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e + 1x1o", "3x0e + 2x1o")
    assert tp.internal_weights and tp.shared_weights and tp.weight.shape == (tp.weight_numel,)
    views = list(tp.weight_views(yield_instruction=True))
    assert [ins.path_shape for _, ins, _ in views] == [v.shape for _, _, v in views]
    assert sum(v.numel() for _, _, v in views) == tp.weight_numel
    with torch.no_grad():
        views[0][2].fill_(0.0)  # a view: writes reach the flat weight
    assert (tp.weight[: views[0][2].numel()] == 0).all()
    external = FullyConnectedTensorProduct("2x0e", "0e", "0e", shared_weights=False)
    assert not external.internal_weights and external.weight.numel() == 0
    assert next(external.weight_views(torch.zeros(7, 2))).shape == (7, 2, 1, 1)
    with pytest.raises(ValueError, match="internal_weights=True needs shared_weights=True"):
        TensorProduct("0e", "0e", "0e", [(0, 0, 0, "uvw", True)], internal_weights=True, shared_weights=False)


def test_full_and_elementwise_shapes_and_repr() -> None:
    full = FullTensorProduct("2x1o", "3x1e", filter_ir_out=["0o", "2o"])
    assert full.irreps_out == Irreps("6x0o + 6x2o") and full.weight_numel == 0
    elementwise = ElementwiseTensorProduct("3x1o + 2x0e", "5x0e")
    assert elementwise.irreps_out == Irreps("3x1o + 2x0e")
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e", "3x0e")
    assert repr(tp) == "FullyConnectedTensorProduct(2x0e+1x1o x 1x0e -> 3x0e | 6 paths | 6 weights)"


def test_output_mask_and_unreached_outputs_are_zero() -> None:
    tp = TensorProduct("1x0e", "1x0e", "1x0e + 2x1o", [(0, 0, 0, "uvw", True)])
    assert tp.output_mask.tolist() == [1.0] + [0.0] * 6
    out = tp(torch.randn(3, 1), torch.randn(3, 1))
    assert (out[:, 1:] == 0).all() and (out[:, 0] != 0).all()


def test_visualize_returns_figure_and_axes() -> None:
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e + 1x1o", "3x0e + 2x1o")
    fig, ax = tp.visualize()
    assert fig is ax.get_figure() and len(ax.lines) == 3 + 3 * len(tp.instructions)
    matplotlib.pyplot.close(fig)


def test_errors_name_the_problem() -> None:
    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e", "3x0e", shared_weights=False)
    x, y, w = torch.randn(4, 5), torch.randn(4, 1), torch.randn(4, tp.weight_numel)
    with pytest.raises(ValueError, match=r"irreps_in1 = 2x0e\+1x1o needs the last dimension to be 5"):
        tp(torch.randn(4, 4), y, w)
    with pytest.raises(ValueError, match="irreps_in2 = 1x0e needs the last dimension to be 1"):
        tp(x, torch.randn(4, 3), w)
    with pytest.raises(ValueError, match=r"\[batch\.\.\., 6\] \(weight_numel\)"):
        tp(x, y, torch.randn(4, 7))
    with pytest.raises(ValueError, match="pass weight"):
        tp(x, y)
    with pytest.raises(TypeError, match="mixed dtypes"):
        tp(x.double(), y, w)
    shared = FullyConnectedTensorProduct("2x0e", "1x0e", "3x0e")
    with pytest.raises(ValueError, match=r"shared weights need shape \[6\] \(weight_numel\)"):
        shared(torch.randn(2, 2), torch.randn(2, 1), torch.randn(2, 6))
    with pytest.raises(ValueError, match="1o x 1o cannot produce 1o"):
        TensorProduct("1o", "1o", "1o", [(0, 0, 0, "uvw", True)])
    with pytest.raises(ValueError, match="unknown connection mode 'uvx'"):
        TensorProduct("0e", "0e", "0e", [(0, 0, 0, "uvx", True)])
    with pytest.raises(ValueError, match="mode 'uvu' needs mul1 == mul_out"):
        TensorProduct("2x0e", "0e", "3x0e", [(0, 0, 0, "uvu", True)])
    with pytest.raises(ValueError, match="i_out=2 is not an index"):
        TensorProduct("0e", "0e", "0e", [(0, 0, 2, "uvw", True)])
    with pytest.raises(ValueError, match="irrep_normalization='unit'"):
        FullyConnectedTensorProduct("0e", "0e", "0e", irrep_normalization="unit")


# mul2 == 1 (the spherical-harmonics operand): the y-first route of the kernel, in each mode it serves.
V1_CASES = {
    "uvw": ("3x0e + 2x1o + 2x2e", "0e + 1o + 2e", "2x0e + 3x1o + 2x2e", "uvw"),
    "uvu": ("3x0e + 2x1o + 2x2e", "0e + 1o + 2e", "3x0e + 2x1o + 2x2e", "uvu"),
    "uvv": ("3x0e + 2x1o + 2x2e", "0e + 1o + 2e", "1x0e + 1x1o + 1x2e", "uvv"),
}


def _v1_tp(mode: str, shared: bool, **kwargs) -> TensorProduct:
    in1, in2, out, _ = V1_CASES[mode]
    irreps1, irreps2, irreps_out = Irreps(in1), Irreps(in2), Irreps(out)
    ins = [
        (i1, i2, io, mode, True)
        for i1, (_, a) in enumerate(irreps1)
        for i2, (_, b) in enumerate(irreps2)
        for io, (_, c) in enumerate(irreps_out)
        if c in list(a * b) and (mode != "uvu" or i1 == io)
    ]
    return TensorProduct(in1, in2, out, ins, shared_weights=shared, internal_weights=False, **kwargs)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mode", list(V1_CASES))
def test_mul2_one_route_matches_reference_and_float32(mode: str, shared: bool) -> None:
    tp64 = _v1_tp(mode, shared).double()
    assert all(p.mul2 == 1 for group in tp64.kernel.groups for p in group)
    x, y, w = (t.double() for t in _inputs(tp64, batch=7, shared=shared))
    reference = tensor_product_reference(tp64, x, y, w)
    assert (tp64(x, y, w) - reference).abs().max() < 1e-12
    tp32 = _v1_tp(mode, shared)
    out32 = tp32(x.float(), y.float(), w.float()).double()
    assert ((out32 - reference).norm() / reference.norm()).item() < 1e-5


def test_uvw_paths_into_one_output_share_one_group() -> None:
    tp = FullyConnectedTensorProduct("4x0e + 4x1o + 4x2e", "0e + 1o + 2e", "4x0e + 4x1o + 4x2e")
    assert len(tp.kernel.groups) == len(tp.irreps_out)  # 11 paths, one matmul per output term
    assert sum(len(group) for group in tp.kernel.groups) == len(tp.instructions)


@pytest.mark.parametrize("mode", ["uvw", "uvu"])
def test_double_backward(float64, mode: str) -> None:
    tp = _v1_tp(mode, shared=False)
    x, y, w = _inputs(tp, batch=2, shared=False)
    inputs = tuple(t.requires_grad_() for t in (x, y, w))
    assert torch.autograd.gradgradcheck(tp, inputs)


def test_fast_path_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from e3lab.o3._tensor_product import fast_paths_enabled, set_fast_paths

    tp = FullyConnectedTensorProduct("2x0e + 1x1o", "1x0e + 1x1o", "2x0e + 2x1o", shared_weights=False)
    x, y, w = _inputs(tp, shared=False)
    fast = tp(x, y, w)

    def broken(*args: object) -> None:
        raise AssertionError("fast kernel called with fast paths off")

    monkeypatch.setattr(tp.kernel, "forward", broken)
    assert fast_paths_enabled()
    set_fast_paths(False)
    try:
        slow = tp(x, y, w)
    finally:
        set_fast_paths(True)
    assert (slow - fast).abs().max() < 1e-5
    tp.fast_path = False  # the module's own flag wins over the global setting
    assert tp(x, y, w).shape == fast.shape
    with pytest.raises(TypeError, match="set_fast_paths expects True or False"):
        set_fast_paths("no")
    with pytest.raises(TypeError, match="fast_path must be True, False or None"):
        FullyConnectedTensorProduct("0e", "0e", "0e", fast_path=1)


def test_fast_paths_environment_variable() -> None:
    import subprocess
    import sys

    code = "from e3lab.o3._tensor_product import fast_paths_enabled as f; print(f())"
    env = {"E3LAB_FAST_PATHS": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_visualize_layout_in1_left_in2_right_outputs_below() -> None:
    tp = FullyConnectedTensorProduct("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e")
    fig, ax = tp.visualize()
    size = 0.1 * max(len(tp.irreps_in1), len(tp.irreps_in2), len(tp.irreps_out))
    paths = ax.lines[3:]
    assert len(paths) == 3 * len(tp.instructions)
    for line in paths:  # every leg stays inside the hexagon (no stray far-away meeting point)
        assert (abs(line.get_xdata()) <= size + 1e-9).all() and (abs(line.get_ydata()) <= size + 1e-9).all()
    n1, n2 = len(tp.irreps_in1), len(tp.irreps_in2)
    in1, in2, out = ax.texts[:n1], ax.texts[n1 : n1 + n2], ax.texts[n1 + n2 :]
    assert [t.get_text() for t in in1] == ["$10 \\times 0e$", "$10 \\times 1e$"]
    assert all(t.xy[0] < 0 < t.xy[1] for t in in1)  # in1: upper left
    assert all(t.xy[0] > 0 and t.xy[1] > 0 for t in in2)  # in2: upper right
    assert len(out) == 2 and all(t.xy[1] < 0 for t in out)  # outputs: below
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("shared", [True, False])
def test_uvw_group_weights_adjacent_are_one_segment_else_gathered(float64, shared: bool) -> None:
    adjacent = [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True), (1, 0, 1, "uvw", True)]
    apart = [(0, 0, 0, "uvw", True), (1, 0, 1, "uvw", True), (1, 1, 0, "uvw", True)]
    for ins, pieces in ((adjacent, 2), (apart, 3)):
        tp = TensorProduct("2x0e + 3x1o", "2x0e + 1x1o", "3x0e + 2x1o", ins, shared_weights=shared)
        assert len(tp.kernel.chunk_sizes) == pieces
        assert sum(tp.kernel.chunk_sizes) == tp.weight_numel
        x, y, w = _inputs(tp, shared=shared)
        assert (tp(x, y, w) - tensor_product_reference(tp, x, y, w)).abs().max() < 1e-12


def test_empty_batch_with_per_sample_weights_in_an_adjacent_group() -> None:
    """Zero samples through a multi-path uvw group (a weight view whose leading size is 0) give [0, dim]."""
    ins = [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True)]
    tp = TensorProduct("1x0e + 1x1o", "1x0e + 1x1o", "1x0e", ins, shared_weights=False)
    x, y = torch.zeros(0, tp.irreps_in1.dim), torch.zeros(0, tp.irreps_in2.dim)
    out = tp(x, y, torch.zeros(0, tp.weight_numel))
    assert out.shape == (0, tp.irreps_out.dim)


def test_compile_kernel_flag_is_checked_and_off_by_default() -> None:
    assert FullyConnectedTensorProduct("1x0e", "1x0e", "1x0e").compile_kernel is False
    with pytest.raises(TypeError, match="compile_kernel"):
        FullyConnectedTensorProduct("1x0e", "1x0e", "1x0e", compile_kernel="yes")


@pytest.mark.slow
def test_compile_kernel_matches_eager_values_and_gradients(float64) -> None:
    tp = TensorProduct(*MODE_CASES["uvw"], shared_weights=False, compile_kernel=True)
    x, y, w = (t.requires_grad_() for t in _inputs(tp, batch=7, shared=False))
    out = tp(x, y, w)
    reference = tensor_product_reference(tp, x, y, w)
    assert (out - reference).abs().max() < 1e-10
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, y, w), grad)
    want = torch.autograd.grad(reference, (x, y, w), grad)
    assert max((a - b).abs().max().item() for a, b in zip(got, want, strict=True)) < 1e-10
    tp.compile_kernel = False
    assert (tp(x, y, w) - out).abs().max() < 1e-10
