"""Spherical harmonics: e3nn's numbers, equivariance, normalizations, derivatives, zero vectors, compile."""

from __future__ import annotations

import math

import e3nn.o3
import pytest
import torch

from e3lab.o3 import Irreps, SphericalHarmonics, rand_matrix, spherical_harmonics

# e3nn's SphericalHarmonics goes through a deprecated torch.jit decorator when built
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

LMAX = 11
NORMALIZATIONS = ["integral", "component", "norm"]


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("normalize", [True, False])
def test_matches_e3nn(float64: None, normalization: str, normalize: bool) -> None:
    # |x| <= ~1.2 keeps the unnormalized degree-11 polynomials of order one, so 1e-10 is an absolute test
    x = torch.nn.functional.normalize(torch.randn(200, 3), dim=-1) * torch.rand(200, 1) * 1.2
    ls = list(range(LMAX + 1))
    ours = spherical_harmonics(ls, x, normalize, normalization)
    reference = e3nn.o3.spherical_harmonics(ls, x, normalize, normalization)
    assert ours.shape == (200, (LMAX + 1) ** 2)
    torch.testing.assert_close(ours, reference, atol=1e-10, rtol=0)


@pytest.mark.parametrize("l", [0, 1, [2], [3, 1, 3], "0e + 1o + 2e", "2x1o + 4e", Irreps("1o + 3o")])
def test_argument_forms_match_e3nn(float64: None, l: object) -> None:
    x = torch.randn(5, 7, 3)
    ours = spherical_harmonics(l, x, True, "component")
    l_e3nn = str(l) if isinstance(l, Irreps) else l  # e3nn reads our Irreps through its string
    reference = e3nn.o3.spherical_harmonics(l_e3nn, x, True, "component")
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, atol=1e-12, rtol=0)
    module = SphericalHarmonics(l, True, "component")
    assert module.irreps_out == e3nn.o3.SphericalHarmonics(l_e3nn, True, "component").irreps_out
    torch.testing.assert_close(module(x), ours, atol=1e-14, rtol=0)


def test_low_degrees_are_the_documented_polynomials(float64: None) -> None:
    x, y, z = torch.randn(3, 10)
    xyz = torch.stack([x, y, z], dim=-1)
    s15, s5 = math.sqrt(15), math.sqrt(5)
    expected = torch.stack(
        [
            torch.ones_like(x),
            *(math.sqrt(3) * xyz).unbind(-1),
            s15 * x * z,
            s15 * x * y,
            s5 * (y**2 - (x**2 + z**2) / 2),
            s15 * y * z,
            s15 / 2 * (z**2 - x**2),
        ],
        dim=-1,
    )
    torch.testing.assert_close(spherical_harmonics([0, 1, 2], xyz, False, "component"), expected)


def test_unnormalized_harmonics_are_homogeneous(float64: None) -> None:
    x = torch.randn(20, 3)
    t = 1.7
    Y, Y_scaled = (spherical_harmonics(list(range(7)), v, False) for v in (x, t * x))
    for l in range(7):
        s = slice(l * l, (l + 1) ** 2)
        torch.testing.assert_close(Y_scaled[:, s], t**l * Y[:, s], atol=1e-10, rtol=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
def test_equivariant_under_rotations_and_inversion(float64: None, normalize: bool) -> None:
    irreps = Irreps.spherical_harmonics(LMAX)
    x = torch.randn(30, 3)
    x = x / x.norm(dim=-1, keepdim=True) * 1.1
    R = rand_matrix(2)
    R[1] = -R[1]  # a rotation composed with the inversion
    for Rk in R:
        Y_rotated = spherical_harmonics(list(range(LMAX + 1)), x @ Rk.T, normalize)
        D = irreps.D_from_matrix(Rk)
        Y = spherical_harmonics(list(range(LMAX + 1)), x, normalize)
        torch.testing.assert_close(Y_rotated, Y @ D.T, atol=1e-10, rtol=0)
    Y, Y_minus = (spherical_harmonics(list(range(LMAX + 1)), v, normalize) for v in (x, -x))
    parity = torch.cat([torch.full((2 * l + 1,), (-1.0) ** l) for l in range(LMAX + 1)])
    torch.testing.assert_close(Y_minus, Y * parity, atol=1e-10, rtol=0)


def test_pseudovector_input_has_even_outputs(float64: None) -> None:
    module = SphericalHarmonics("0e + 1e + 2e", True, irreps_in="1e")
    assert module.irreps_out == Irreps("0e + 1e + 2e")
    assert SphericalHarmonics(Irreps("1e + 3e"), True).irreps_in == Irreps("1e")
    x = torch.randn(4, 3)
    torch.testing.assert_close(module(x), spherical_harmonics([0, 1, 2], x, True))


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_second_moments(float64: None, normalization: str) -> None:
    x = torch.randn(200_000, 3)
    Y = spherical_harmonics(list(range(5)), x, True, normalization)
    for l in range(5):
        block = Y[:, l * l : (l + 1) ** 2]
        per_point = block.pow(2).sum(-1)
        expected = {"component": 2 * l + 1, "norm": 1.0, "integral": (2 * l + 1) / (4 * math.pi)}[
            normalization
        ]
        # on the sphere the squared norm of each degree is constant, and the mean of each component is
        # expected / (2l+1) (for "integral": the integral of Y_m^2 over the sphere is 1)
        torch.testing.assert_close(per_point, torch.full_like(per_point, expected), atol=1e-10, rtol=0)
        component_means = block.pow(2).mean(0)
        target = torch.full_like(component_means, expected / (2 * l + 1))
        torch.testing.assert_close(component_means, target, atol=0.03 * expected, rtol=0)


def test_gradcheck_and_gradgradcheck(float64: None) -> None:
    x = torch.randn(4, 3, requires_grad=True)
    for normalize in (True, False):

        def f(v: torch.Tensor, normalize: bool = normalize) -> torch.Tensor:
            return spherical_harmonics([0, 1, 2, 3, 6], v, normalize, "component")

        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


def test_zero_vector_is_finite_with_zero_gradient(float64: None) -> None:
    x = torch.zeros(2, 3, requires_grad=True)
    Y = spherical_harmonics(list(range(4)), x, True, "component")
    torch.testing.assert_close(Y[:, 0], torch.ones(2))
    assert (Y[:, 1:] == 0).all()
    (grad,) = torch.autograd.grad(Y.pow(2).sum() + Y.sum(), x, create_graph=True)
    assert torch.isfinite(grad).all() and (grad == 0).all()
    (second,) = torch.autograd.grad(grad.sum(), x, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(second).all()


def test_dtypes_and_module_conversion() -> None:
    x = torch.randn(6, 3)
    module = SphericalHarmonics(4, True)
    assert module(x).dtype == torch.float32
    assert module(x.double()).dtype == torch.float64
    torch.testing.assert_close(module.double()(x.double()).float(), module.float()(x), atol=1e-6, rtol=0)
    assert spherical_harmonics(3, x.double(), True).dtype == torch.float64


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("0e + 1o + 2o", True), {}, ValueError, "parity"),
        (("1e + 2o", True), {}, ValueError, "parity"),
        ((2, True), {"normalization": "unit"}, ValueError, "normalization"),
        ((2, True), {"irreps_in": "2e"}, ValueError, "irreps_in"),
        ((2.5, True), {}, TypeError, "list of ints"),
        (([], True), {}, ValueError, "at least one degree"),
    ],
)
def test_errors(args: tuple, kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        SphericalHarmonics(*args, **kwargs)


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
def test_torch_compile_fullgraph_matches_eager(backend: str) -> None:
    module = SphericalHarmonics(3, True, "component")
    x = torch.randn(16, 3, requires_grad=True)
    compiled = torch.compile(module, fullgraph=True, dynamic=False, backend=backend)
    y, y_eager = compiled(x), module(x)
    torch.testing.assert_close(y, y_eager, atol=1e-6, rtol=1e-6)
    (grad,) = torch.autograd.grad(y.pow(2).sum(), x)
    (grad_eager,) = torch.autograd.grad(y_eager.pow(2).sum(), x)
    torch.testing.assert_close(grad, grad_eager, atol=1e-5, rtol=1e-5)
