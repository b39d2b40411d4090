"""Irrep and Irreps: parsing, arithmetic, layout helpers, random tensors, representations, errors."""

from __future__ import annotations

import pickle

import e3nn.o3
import pytest
import torch

from e3lab.o3 import Irrep, Irreps, rand_matrix


@pytest.mark.parametrize("text", ["0e", "1o", "11e", "2y", "3y", " 1e "])
def test_irrep_parsing_matches_e3nn(text: str) -> None:
    ir = Irrep(text)
    reference = e3nn.o3.Irrep(text)
    assert (ir.l, ir.p) == (reference.l, reference.p)
    assert ir.dim == 2 * ir.l + 1
    assert Irrep(str(ir)) == ir and Irrep(repr(ir)) == ir


def test_irrep_is_a_hashable_pair() -> None:
    ir = Irrep(2, -1)
    l, p = ir
    assert (l, p) == (2, -1) == ir
    assert Irrep((2, -1)) == ir and Irrep(ir) is ir
    assert {ir: 1}[(2, -1)] == 1
    assert pickle.loads(pickle.dumps(ir)) == ir
    assert Irrep("0e").is_scalar() and not Irrep("0o").is_scalar()
    assert Irrep("2y") == Irrep("2e") and Irrep("3y") == Irrep("3o")


def test_irrep_arithmetic() -> None:
    assert list(Irrep("1o") * Irrep("2e")) == [Irrep("1o"), Irrep("2o"), Irrep("3o")]
    assert list(Irrep("1o") * "1o") == [Irrep("0e"), Irrep("1e"), Irrep("2e")]
    assert 3 * Irrep("1e") == Irreps("3x1e")
    assert Irrep("0e") + Irrep("1o") == Irreps("0e + 1o")
    assert list(Irrep.iterator(2)) == [Irrep(x) for x in ["0e", "0o", "1o", "1e", "2e", "2o"]]
    assert list(Irrep.iterator(2)) == [Irrep(x.l, x.p) for x in e3nn.o3.Irrep.iterator(2)]
    with pytest.raises(TypeError):
        Irrep("1e") * 3


@pytest.mark.parametrize(
    "text", ["16x1e + 32x2o", "", "0e+1o+2y+3y", " 2x0e + 0x1o ", "1e + 1e + 0e", "10x0o + 5x11e"]
)
def test_irreps_parsing_round_trip_and_dims(text: str) -> None:
    irreps = Irreps(text)
    reference = e3nn.o3.Irreps(text)
    assert repr(irreps) == repr(reference) and str(irreps) == str(reference)
    assert Irreps(repr(irreps)) == irreps == reference
    assert (irreps.dim, irreps.num_irreps, irreps.ls) == (reference.dim, reference.num_irreps, reference.ls)
    assert [s for s in irreps.slices()] == reference.slices()


def test_irreps_constructors_agree() -> None:
    expected = Irreps("2x0e + 1x1o")
    assert Irreps([(2, "0e"), (1, (1, -1))]) == expected
    assert Irreps([(2, Irrep("0e")), "1o"]) == expected
    assert Irreps(expected) == expected
    assert Irreps(Irrep("1o")) == Irreps("1x1o")
    assert Irreps() == Irreps("") == Irreps([]) and len(Irreps()) == 0
    assert Irreps(list(expected)) == expected


def test_mul_ir_fields() -> None:
    mul_ir = Irreps("3x2o")[0]
    assert (mul_ir.mul, mul_ir.ir, mul_ir.dim) == (3, Irrep("2o"), 15)
    mul, ir = mul_ir
    assert (mul, ir) == (3, (2, -1))
    assert repr(mul_ir) == "3x2o"


def test_irreps_arithmetic() -> None:
    a = Irreps("0e + 1o")
    assert a + "2e" == Irreps("0e + 1o + 2e")
    assert a + Irrep("2e") == Irreps("0e + 1o + 2e")
    assert a * 2 == 2 * a == Irreps("0e + 1o + 0e + 1o")
    assert (Irreps("2x1e") * 3).simplify() == Irreps("6x1e")
    with pytest.raises(TypeError, match="TensorProduct"):
        a * a


def test_irreps_indexing_slicing_contains_count() -> None:
    irreps = Irreps("2o + 3x1e + 0e + 1e")
    assert irreps[1] == (3, Irrep("1e"))
    assert isinstance(irreps[1:3], Irreps) and irreps[1:3] == Irreps("3x1e + 0e")
    assert irreps[::-1] == Irreps("1e + 0e + 3x1e + 2o")
    assert Irrep("1e") in irreps and "0e" in irreps and (2, -1) in irreps
    assert Irrep("1o") not in irreps
    assert irreps.count("1e") == 4 and irreps.count(Irrep("5o")) == 0
    assert irreps.lmax == 2
    assert not irreps.is_scalar() and Irreps("3x0e + 0e").is_scalar()


def test_simplify_sort_regroup_filter_match_e3nn() -> None:
    for text in ["2o + 1e + 0e + 1e", "1e + 1e + 0e + 1e", "4x0e + 0x1o + 2x3e", "0e + 0o + 1o + 1e + 0e"]:
        ours, ref = Irreps(text), e3nn.o3.Irreps(text)
        assert ours.simplify() == ref.simplify()
        assert ours.remove_zero_multiplicities() == ref.remove_zero_multiplicities()
        assert ours.regroup() == ref.regroup()
        ours_sorted, ref_sorted = ours.sort(), ref.sort()
        assert ours_sorted.irreps == ref_sorted.irreps
        assert ours_sorted.p == ref_sorted.p and ours_sorted.inv == ref_sorted.inv
    irreps = Irreps("1e + 2e + 0e")
    assert irreps.filter(keep=["0e", "1e"]) == Irreps("1e + 0e")
    assert irreps.filter(keep="2e + 2x1e") == Irreps("1e + 2e")
    assert irreps.filter(drop="2e + 2x1e") == Irreps("0e")
    assert irreps.filter(drop=Irrep("0e")) == Irreps("1e + 2e")
    assert irreps.filter(lmax=1) == Irreps("1e + 0e")
    assert irreps.filter(keep=lambda mul_ir: mul_ir.ir.l > 0) == Irreps("1e + 2e")
    assert irreps.filter() == irreps
    with pytest.raises(ValueError, match="one of keep, drop, lmax"):
        irreps.filter(keep="0e", drop="1e")


def test_spherical_harmonics_irreps() -> None:
    assert Irreps.spherical_harmonics(3) == Irreps("0e + 1o + 2e + 3o")
    assert Irreps.spherical_harmonics(2, p=1) == Irreps("0e + 1e + 2e")


def test_randn_shapes_and_normalization() -> None:
    irreps = Irreps("5x0e + 10x1o + 3x2e")
    x = irreps.randn(2000, -1)
    assert x.shape == (2000, irreps.dim) and x.dtype == torch.get_default_dtype()
    assert abs(x.pow(2).mean().item() - 1) < 0.02
    y = irreps.randn(5, -1, 7, normalization="norm", dtype=torch.float64)
    assert y.shape == (5, irreps.dim, 7) and y.dtype == torch.float64
    for s, (mul, ir) in zip(irreps.slices(), irreps, strict=True):
        norms = y[:, s].reshape(5, mul, ir.dim, 7).norm(dim=2)
        torch.testing.assert_close(norms, torch.ones_like(norms))
    assert irreps.randn(-1, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="exactly one -1"):
        irreps.randn(3, 4)
    with pytest.raises(ValueError, match="normalization"):
        irreps.randn(-1, normalization="integral")


def test_D_from_matrix_matches_e3nn_with_and_without_inversion(float64: None) -> None:
    irreps = Irreps("2x0e + 0o + 1o + 1e + 2e + 3o + 4e")
    R = rand_matrix(6)
    R[3:] = -R[3:]
    ours = irreps.D_from_matrix(R)
    torch.testing.assert_close(ours, e3nn.o3.Irreps(str(irreps)).D_from_matrix(R), atol=1e-10, rtol=0)
    for mul_ir, s in zip(irreps, irreps.slices(), strict=True):
        block = mul_ir.ir.D_from_matrix(R)
        torch.testing.assert_close(ours[:, s.start : s.start + mul_ir.ir.dim, s][..., : mul_ir.ir.dim], block)
    torch.testing.assert_close(Irrep("1o").D_from_matrix(-torch.eye(3)), -torch.eye(3), atol=1e-12, rtol=0)
    torch.testing.assert_close(Irrep("1e").D_from_matrix(-torch.eye(3)), torch.eye(3), atol=1e-12, rtol=0)


def test_D_from_other_parametrizations_match_e3nn(float64: None) -> None:
    irreps = Irreps("0e + 1o + 2e + 3o")
    reference = e3nn.o3.Irreps(str(irreps))
    q = e3nn.o3.rand_quaternion(4)
    axis, angle = e3nn.o3.rand_axis_angle(4)
    a, b, c = e3nn.o3.rand_angles(4)
    k = torch.tensor([0.0, 1.0, 0.0, 1.0])
    torch.testing.assert_close(
        irreps.D_from_quaternion(q), reference.D_from_quaternion(q), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(
        irreps.D_from_axis_angle(axis, angle), reference.D_from_axis_angle(axis, angle), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(
        irreps.D_from_angles(a, b, c, k), reference.D_from_angles(a, b, c, k), atol=1e-10, rtol=0
    )
    assert Irreps().D_from_angles(a, b, c).shape == (4, 0, 0)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ("10x1q", ValueError, r"invalid parity 'q' in '10x1q' \(expected 'e', 'o' or 'y'\)"),
        ("-1x1e", ValueError, "negative multiplicity -1"),
        ("1x-1e", ValueError, "negative degree l"),
        ("abc", ValueError, "invalid irrep 'abc'"),
        ("ax1e", ValueError, "invalid multiplicity 'a'"),
        ("1e + + 2o", ValueError, "empty term"),
        ("3", ValueError, "missing parity"),
        (3, TypeError, "cannot make Irreps from 3"),
        ([(1.5, "1e")], TypeError, "multiplicity must be an int"),
        ([(-2, "1e")], ValueError, "multiplicity must be >= 0"),
        ([object()], TypeError, "cannot read"),
    ],
)
def test_irreps_errors(bad: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Irreps(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("1q",), ValueError, "invalid parity 'q'"),
        ((-1, 1), ValueError, "l must be >= 0"),
        ((1, 0), ValueError, "parity p must be 1"),
        ((1.0, 1), TypeError, "must be an int"),
        ((None,), TypeError, "cannot make an Irrep"),
    ],
)
def test_irrep_errors(args: tuple, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Irrep(*args)


def test_lmax_of_empty_irreps_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        _ = Irreps().lmax
