"""soft_unit_step: agreement with e3nn, smoothness, finite gradient at and below zero."""

from __future__ import annotations

import math

import torch
from e3nn.math import soft_unit_step as e3nn_soft_unit_step

from e3lab.math import soft_unit_step


def test_matches_e3nn_float64(float64: None) -> None:
    x = torch.linspace(-3.0, 10.0, 1001)
    torch.testing.assert_close(soft_unit_step(x), e3nn_soft_unit_step(x), rtol=0, atol=1e-10)


def test_values() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    expected = torch.tensor([0.0, 0.0, math.exp(-1.0), math.exp(-0.5)])
    torch.testing.assert_close(soft_unit_step(x), expected)


def test_gradient_finite_everywhere(float64: None) -> None:
    x = torch.tensor([-1.0, -1e-300, 0.0, 1e-300, 1e-3, 0.5, 4.0], requires_grad=True)
    (g,) = torch.autograd.grad(soft_unit_step(x).sum(), x)
    assert torch.isfinite(g).all()
    assert (g[:3] == 0).all()
    torch.testing.assert_close(g[5:], torch.exp(-1 / x[5:]) / x[5:] ** 2, rtol=1e-12, atol=0)
    x2 = torch.linspace(-1.0, 2.0, 50, requires_grad=True)
    assert torch.autograd.gradcheck(soft_unit_step, (x2,))
