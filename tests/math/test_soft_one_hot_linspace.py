"""soft_one_hot_linspace: agreement with e3nn 0.6.0 for every basis, normalisation, errors."""

from __future__ import annotations

import pytest
import torch
from e3nn.math import soft_one_hot_linspace as e3nn_soft_one_hot_linspace

from e3lab.math import soft_one_hot_linspace

BASES = ["gaussian", "cosine", "smooth_finite", "fourier", "bessel"]


@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize("cutoff", [True, False])
def test_matches_e3nn_float64(float64: None, basis: str, cutoff: bool) -> None:
    # avoid x == start exactly: the bessel basis divides by (x - start) there (NaN in both libraries)
    x = torch.linspace(-1.03, 2.07, 301)
    ours = soft_one_hot_linspace(x, -0.5, 1.5, number=5, basis=basis, cutoff=cutoff)
    ref = e3nn_soft_one_hot_linspace(x, -0.5, 1.5, number=5, basis=basis, cutoff=cutoff)
    assert ours.shape == (301, 5)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("basis", BASES)
def test_float32_and_batch_shape(basis: str) -> None:
    x = torch.rand(4, 7) * 2.0 + 0.01
    y = soft_one_hot_linspace(x, 0.0, 2.0, number=3, basis=basis, cutoff=True)
    assert y.shape == (4, 7, 3)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("basis", ["cosine", "smooth_finite", "fourier", "bessel"])
def test_cutoff_vanishes_outside(basis: str) -> None:
    # (the gaussian basis only moves its centres inwards with cutoff=True: its tails never vanish)
    x = torch.tensor([-2.0, -0.5001, 1.5001, 3.0])
    y = soft_one_hot_linspace(x, -0.5, 1.5, number=4, basis=basis, cutoff=True)
    assert y.abs().max() == 0
    inside = soft_one_hot_linspace(torch.tensor([0.5]), -0.5, 1.5, number=4, basis=basis, cutoff=True)
    assert inside.abs().max() > 0.1


@pytest.mark.parametrize("basis", ["gaussian", "cosine", "smooth_finite", "fourier"])
def test_sum_of_squares_near_one_inside(float64: None, basis: str) -> None:
    x = torch.linspace(0.2, 0.8, 101)
    y = soft_one_hot_linspace(x, 0.0, 1.0, number=10, basis=basis, cutoff=True)
    s = y.pow(2).sum(-1)
    assert s.min() > 0.5 and s.max() < 2.0


def test_cosine_centres_without_cutoff(float64: None) -> None:
    # with cutoff=False the centres are linspace(start, end, N): function i peaks (=1) at centre i
    centres = torch.linspace(0.0, 3.0, 3)
    y = soft_one_hot_linspace(centres, 0.0, 3.0, number=3, basis="cosine", cutoff=False)
    torch.testing.assert_close(y, torch.eye(3), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cutoff", [None, 1, "yes"])
def test_cutoff_must_be_bool(cutoff: object) -> None:
    with pytest.raises(ValueError, match="cutoff"):
        soft_one_hot_linspace(torch.zeros(3), 0.0, 1.0, 4, basis="cosine", cutoff=cutoff)  # type: ignore[arg-type]


def test_unknown_basis() -> None:
    with pytest.raises(ValueError, match=r"basis='square'.*gaussian"):
        soft_one_hot_linspace(torch.zeros(3), 0.0, 1.0, 4, basis="square", cutoff=True)


def test_bad_number() -> None:
    with pytest.raises(ValueError, match="number=0"):
        soft_one_hot_linspace(torch.zeros(3), 0.0, 1.0, 0, basis="cosine", cutoff=True)


def test_smooth_finite_is_the_product_of_two_soft_steps_with_finite_derivatives(float64: None) -> None:
    """The one-exponential form equals C u(1 + d) u(1 - d) (values and first two derivatives)."""
    from e3lab.math import soft_unit_step
    from e3lab.math._soft_one_hot_linspace import _SMOOTH_FINITE_SCALE

    x = torch.cat([torch.linspace(-0.5, 2.5, 3001), torch.tensor([0.0, 1.0, 2.0, 1e-3, 2 - 1e-3])])
    x.requires_grad_()
    fast = soft_one_hot_linspace(x, 0.0, 2.0, 3, basis="smooth_finite", cutoff=True)
    d = (x[:, None] - torch.tensor([0.5, 1.0, 1.5])) / 0.5
    slow = _SMOOTH_FINITE_SCALE * soft_unit_step(d + 1) * soft_unit_step(1 - d)
    assert (fast - slow).abs().max() < 1e-13
    (grad_fast,) = torch.autograd.grad(fast.sum(), x, create_graph=True)
    (grad_slow,) = torch.autograd.grad(slow.sum(), x, create_graph=True)
    assert torch.isfinite(grad_fast).all() and (grad_fast - grad_slow).abs().max() < 1e-11
    (second_fast,) = torch.autograd.grad(grad_fast.sum(), x)
    (second_slow,) = torch.autograd.grad(grad_slow.sum(), x)
    assert torch.isfinite(second_fast).all() and (second_fast - second_slow).abs().max() < 1e-9
