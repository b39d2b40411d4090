"""Porting from e3nn: e3lab's constructors take e3nn's objects, and e3nn's API around the products.

e3nn's ``Irrep``/``Irreps`` and instruction lists are converted by value; another product's instructions keep
their (already normalised) path weights, so the same weights give e3nn's numbers (float64, 1e-10).
Also: the triangle modes ``uvu<v``/``u<vw``, ``right()``, weights as lists, weight views, e3nn's keywords and
exception classes.
"""

from __future__ import annotations

import pytest
import torch
from e3nn import o3 as e3nn_o3

from e3lab import o3
from e3lab.nn import Gate
from e3lab.o3 import irrep

TOL = 1e-10


def test_irrep_and_irreps_from_e3nn() -> None:
    assert o3.Irrep(e3nn_o3.Irrep("3o")) == o3.Irrep("3o")
    theirs = e3nn_o3.Irreps("16x0e + 3x1o + 0x2e + 2o")
    ours = o3.Irreps(theirs)
    assert type(ours) is o3.Irreps
    assert ours == o3.Irreps("16x0e + 3x1o + 0x2e + 2o")
    assert all(type(ir) is o3.Irrep for _, ir in ours)
    assert o3.Irreps([(2, e3nn_o3.Irrep("1e")), e3nn_o3.Irrep("0o")]) == o3.Irreps("2x1e + 0o")
    assert o3.Irreps("0e") + theirs == o3.Irreps("0e + 16x0e + 3x1o + 0x2e + 2o")


def test_e3nn_irreps_in_constructors(float64: None) -> None:
    e_in, e_out = e3nn_o3.Irreps("2x0e + 1o"), e3nn_o3.Irreps("3x0e + 2x1o")
    lin = o3.Linear(e_in, e_out)
    assert lin.irreps_in == o3.Irreps("2x0e + 1o") and lin.irreps_out == o3.Irreps("3x0e + 2x1o")
    tp = o3.FullyConnectedTensorProduct(e_in, e3nn_o3.Irreps.spherical_harmonics(2), e_out)
    assert tp.irreps_in2 == o3.Irreps.spherical_harmonics(2)
    sh = o3.SphericalHarmonics(e3nn_o3.Irreps.spherical_harmonics(2), True, "component")
    assert sh(torch.randn(4, 3)).shape == (4, 9)
    gate = Gate(
        e3nn_o3.Irreps("2x0e"), [torch.relu], e3nn_o3.Irreps("1x0e"), [torch.sigmoid], e3nn_o3.Irreps("1o")
    )
    assert gate.irreps_out == o3.Irreps("2x0e + 1o")


def _copy_weights(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        for name in ("weight", "bias"):
            if getattr(theirs, name, None) is not None and getattr(theirs, name).numel():
                getattr(ours, name).copy_(getattr(theirs, name))


@pytest.mark.parametrize("shared", [True, False])
def test_tensor_product_from_e3nn_instructions(float64: None, shared: bool) -> None:
    """Normalisation, variances and path weights of the e3nn product travel inside its instructions."""
    theirs = e3nn_o3.TensorProduct(
        "3x0e + 2x1o",
        "0e + 1o",
        "2x0e + 3x1o + 2x1e",
        [
            (0, 0, 0, "uvw", True, 0.3),
            (1, 1, 0, "uvw", True),
            (1, 1, 2, "uvu", True, 2.0),
            (0, 1, 1, "uvw", True),
        ],
        in1_var=[1.0, 0.5],
        out_var=[2.0, 1.0, 0.7],
        irrep_normalization="norm",
        path_normalization="path",
        shared_weights=shared,
        internal_weights=shared,
    )
    ours = o3.TensorProduct(
        theirs.irreps_in1, theirs.irreps_in2, theirs.irreps_out, theirs.instructions, shared_weights=shared
    )
    assert [ins.path_weight for ins in ours.instructions] == [ins.path_weight for ins in theirs.instructions]
    x, y = theirs.irreps_in1.randn(5, -1), theirs.irreps_in2.randn(5, -1)
    if shared:
        _copy_weights(ours, theirs)
        torch.testing.assert_close(ours(x, y), theirs(x, y), atol=TOL, rtol=0)
    else:
        w = torch.randn(5, theirs.weight_numel)
        torch.testing.assert_close(ours(x, y, w), theirs(x, y, w), atol=TOL, rtol=0)


def test_instruction_kinds_do_not_mix() -> None:
    tp = e3nn_o3.FullyConnectedTensorProduct("0e", "0e", "0e")
    with pytest.raises(ValueError, match="mix normalised 7-field"):
        o3.TensorProduct("0e", "0e", "0e", [tp.instructions[0], (0, 0, 0, "uvw", True)])
    with pytest.raises(ValueError, match=r"path_shape \(1, 1, 1\) does not match the irreps"):
        o3.TensorProduct("2x0e", "0e", "0e", tp.instructions)


def test_linear_from_e3nn_instructions(float64: None) -> None:
    theirs = e3nn_o3.Linear(
        "2x0e + 1o + 0e", "3x0e + 2x1o", instructions=[(0, 0), (1, 1), (2, 0)], biases=True
    )
    ours = o3.Linear(theirs.irreps_in, theirs.irreps_out, instructions=theirs.instructions)
    assert ours.bias_numel == theirs.bias_numel == 3  # the bias entry became a bias
    _copy_weights(ours, theirs)
    with torch.no_grad():
        ours.bias.normal_()
        theirs.bias.copy_(ours.bias)
    x = theirs.irreps_in.randn(4, -1)
    torch.testing.assert_close(ours(x), theirs(x), atol=TOL, rtol=0)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("shared", [True, False])
def test_triangle_modes_match_e3nn(float64: None, weighted: bool, shared: bool) -> None:
    """``uvu<v`` (with and without weights) and ``u<vw``: kernel and reference against e3nn."""
    instructions = [(0, 0, 0, "uvu<v", weighted), (1, 1, 1, "uvu<v", weighted), (1, 1, 2, "u<vw", True, 0.5)]
    irreps = ("4x0e + 3x1o", "4x0o + 3x1e", "6x0o + 3x1o + 2x2o")
    theirs = e3nn_o3.TensorProduct(*irreps, instructions, shared_weights=shared, internal_weights=False)
    fast = o3.TensorProduct(*irreps, instructions, shared_weights=shared, internal_weights=False)
    reference = o3.TensorProduct(
        *irreps, instructions, shared_weights=shared, internal_weights=False, fast_path=False
    )
    assert [ins.path_shape for ins in fast.instructions] == [ins.path_shape for ins in theirs.instructions]
    assert fast.weight_numel == theirs.weight_numel
    x, y = fast.irreps_in1.randn(6, -1), fast.irreps_in2.randn(6, -1)
    w = torch.randn(fast.weight_numel) if shared else torch.randn(6, fast.weight_numel)
    expected = theirs(x, y, w)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(fast(x, y, w), expected, atol=TOL, rtol=0)
    torch.testing.assert_close(reference(x, y, w), expected, atol=TOL, rtol=0)


def test_triangle_mode_equivariance_and_gradients(float64: None) -> None:
    tp = o3.TensorProduct("3x1o", "3x1o", "3x0e + 3x1e", [(0, 0, 0, "uvu<v", True), (0, 0, 1, "u<vw", True)])
    x, y = tp.irreps_in1.randn(2, -1), tp.irreps_in2.randn(2, -1)
    R = -o3.rand_matrix()  # a rotation times the inversion
    rotated = tp(x @ tp.irreps_in1.D_from_matrix(R).T, y @ tp.irreps_in2.D_from_matrix(R).T)
    torch.testing.assert_close(rotated, tp(x, y) @ tp.irreps_out.D_from_matrix(R).T, atol=TOL, rtol=0)
    inputs = (x.requires_grad_(), y.requires_grad_(), tp.weight.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(tp, inputs)
    assert torch.autograd.gradgradcheck(tp, inputs)


@pytest.mark.parametrize("shared", [True, False])
def test_right_matches_e3nn(float64: None, shared: bool) -> None:
    irreps = ("2x0e + 2x1o + 1x2e", "0e + 1o + 2e", "3x0e + 2x1o + 2x1e + 2e")
    theirs = e3nn_o3.FullyConnectedTensorProduct(*irreps, shared_weights=shared, compile_right=True)
    ours = o3.FullyConnectedTensorProduct(*irreps, shared_weights=shared, compile_right=True)
    x, y = ours.irreps_in1.randn(3, 1, -1), ours.irreps_in2.randn(4, -1)
    w = ours.weight.detach().normal_() if shared else torch.randn(4, ours.weight_numel)
    if shared:
        _copy_weights(theirs, ours)
        args = ()
    else:
        args = (w,)
    right = ours.right(y, *args)
    assert right.shape == (4, ours.irreps_in1.dim, ours.irreps_out.dim)
    torch.testing.assert_close(right, theirs.right(y, *args), atol=TOL, rtol=0)
    torch.testing.assert_close(
        torch.einsum("...i,...ik->...k", x, right), ours(x, y, *args), atol=TOL, rtol=0
    )


def test_compile_switches() -> None:
    tp = o3.FullyConnectedTensorProduct("0e + 1o", "1o", "0e + 1o")
    with pytest.raises(RuntimeError, match="compile_right=True"):
        tp.right(torch.randn(2, 3))
    off = o3.FullyConnectedTensorProduct(
        "0e + 1o", "1o", "0e + 1o", compile_left_right=False, compile_right=True
    )
    with pytest.raises(RuntimeError, match="compile_left_right=False"):
        off(torch.randn(2, 4), torch.randn(2, 3))
    with pytest.warns(DeprecationWarning, match="irrep_normalization"):
        norm = o3.FullyConnectedTensorProduct("0e + 1o", "1o", "0e + 1o", normalization="norm")
    assert (
        norm.instructions
        == o3.FullyConnectedTensorProduct("0e + 1o", "1o", "0e + 1o", irrep_normalization="norm").instructions
    )
    knobs = o3.TensorProduct(
        "0e", "0e", "0e", [(0, 0, 0, "uvw", True)], _specialized_code=False, _optimize_einsums=False
    )
    assert (knobs._specialized_code, knobs._optimize_einsums) == (False, False)
    linear = o3.Linear("0e", "0e", _optimize_einsums=False)
    assert linear._optimize_einsums is False


@pytest.mark.parametrize("shared", [True, False])
def test_weights_as_a_list(float64: None, shared: bool) -> None:
    tp = o3.TensorProduct(
        "2x0e + 1o",
        "0e + 1o",
        "2x0e + 1o",
        [(0, 0, 0, "uvw", True), (0, 0, 0, "uvu", False), (1, 0, 1, "uvu", True), (0, 1, 1, "uvw", True)],
        shared_weights=shared,
        internal_weights=False,
    )
    batch = () if shared else (3,)
    blocks = [torch.randn(*batch, *ins.path_shape) for ins in tp.instructions if ins.has_weight]
    flat = torch.cat([b.reshape(*batch, -1) for b in blocks], dim=-1)
    x, y = tp.irreps_in1.randn(3, -1), tp.irreps_in2.randn(3, -1)
    torch.testing.assert_close(tp(x, y, blocks), tp(x, y, flat), atol=0, rtol=0)
    with pytest.raises(ValueError, match="expected one per weighted instruction"):
        tp(x, y, blocks[:-1])
    # views skip the instruction without weights
    views = list(tp.weight_views(flat, yield_instruction=True))
    assert [index for index, _, _ in views] == [0, 2, 3]
    for index, ins, view in views:
        assert view.shape == (*batch, *ins.path_shape)
        torch.testing.assert_close(tp.weight_view_for_instruction(index, flat), view, atol=0, rtol=0)
    torch.testing.assert_close(tp.weight_view_for_instruction(3, flat), blocks[2], atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"instruction 1 .* has no weights"):
        tp.weight_view_for_instruction(1, flat)


def test_errors_are_also_e3nn_classes() -> None:
    """Bad instructions and weights raise e3lab's ValueError, which is also the class e3nn raises."""
    with pytest.raises(AssertionError, match="cannot produce 1e"):
        o3.TensorProduct("1o", "0e", "1e", [(0, 0, 0, "uvw", True)])
    with pytest.raises(ValueError, match="mode 'uvu' needs mul1 == mul_out"):
        o3.TensorProduct("2x0e", "0e", "3x0e", [(0, 0, 0, "uvu", True)])
    with pytest.raises(IndexError, match="i_out=3 is not an index"):
        o3.TensorProduct("0e", "0e", "0e", [(0, 0, 3, "uvw", True)])
    with pytest.raises(IndexError, match=r"instruction \(4, 0\) is out of range"):
        o3.Linear("0e", "0e", instructions=[(4, 0)])
    tp = o3.FullyConnectedTensorProduct("0e", "0e", "0e", internal_weights=False)
    with pytest.raises(RuntimeError, match="has no internal weights"):
        tp(torch.randn(2, 1), torch.randn(2, 1))
    with pytest.raises(ValueError, match="shared weights need shape"):
        tp(torch.randn(2, 1), torch.randn(2, 1), torch.randn(2, 1))


def test_irreps_slice_by_mul_and_irrep_names() -> None:
    irreps = o3.Irreps("10x0e + 0x1o + 2e + 10x1e")
    assert irreps.slice_by_mul[5:15] == o3.Irreps("5x0e + 0x1o + 2e + 4x1e")
    assert irreps.slice_by_mul[:3] == o3.Irreps("3x0e")
    assert irreps.slice_by_mul[11:] == o3.Irreps("10x1e")
    assert irreps.slice_by_mul[5:15] == o3.Irreps(e3nn_o3.Irreps(str(irreps)).slice_by_mul[5:15])
    with pytest.raises(IndexError, match="takes a slice"):
        irreps.slice_by_mul[3]
    assert irrep.l0e == o3.Irrep("0e") and irrep.l3y == o3.Irrep("3o")
    with pytest.raises(AttributeError, match="named like l0e"):
        irrep.x1e  # noqa: B018
