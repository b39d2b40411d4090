"""poly_cutoff: 1 at the origin, value and first two derivatives zero at the cutoff, zero beyond it."""

from __future__ import annotations

import pytest
import torch

from e3lab.math import PolynomialCutoff, poly_cutoff


@pytest.mark.parametrize("p", [2.0, 6.0, 9.0])
def test_ends_smoothly_at_the_cutoff(float64: None, p: float) -> None:
    x = torch.tensor([0.0, 5.0 - 1e-9], requires_grad=True)
    u = poly_cutoff(x, 5.0, p)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    assert u[0] == 1.0 and du[0] == 0.0
    assert abs(float(u[1])) < 1e-12 and abs(float(du[1])) < 1e-8 and abs(float(d2u[1])) < 1e-6


def test_decreases_inside_and_vanishes_beyond(float64: None) -> None:
    x = torch.linspace(0.0, 8.0, 801)
    u = poly_cutoff(x, 4.0)
    inside = x < 4.0
    assert (u[inside].diff() <= 0).all() and (u[inside] > 0).all()
    assert (u[~inside] == 0).all()


def test_gradients_finite_and_checked(float64: None) -> None:
    x = torch.linspace(0.0, 3.0, 40, requires_grad=True)  # crosses the cutoff at 2.5
    assert torch.autograd.gradcheck(lambda t: poly_cutoff(t, 2.5), (x,))
    assert torch.autograd.gradgradcheck(lambda t: poly_cutoff(t, 2.5), (x,))


def test_module_and_dtypes() -> None:
    x = torch.rand(10) * 6
    assert PolynomialCutoff(5.0, p=6)(x).dtype == torch.float32
    torch.testing.assert_close(PolynomialCutoff(5.0, p=6)(x.double()), poly_cutoff(x.double(), 5.0, 6.0))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="max_radius=0"):
        poly_cutoff(torch.ones(2), 0)
    with pytest.raises(ValueError, match="p=-1"):
        PolynomialCutoff(5.0, p=-1)
