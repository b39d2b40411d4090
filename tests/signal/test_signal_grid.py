"""S2 grid (e3nn's) and evaluation of signals on it and at directions."""

from __future__ import annotations

import math

import e3nn.o3
import pytest
import torch

from e3lab.signal import SphericalGrid, evaluate, evaluate_at, s2_grid


def test_grid_matches_e3nn(float64: None) -> None:
    betas, alphas = s2_grid(7, 12)
    e_betas, e_alphas = e3nn.o3.s2_grid(7, 12)
    torch.testing.assert_close(betas, e_betas, atol=1e-14, rtol=0)
    torch.testing.assert_close(alphas, e_alphas, atol=1e-14, rtol=0)
    grid = s2_grid(7, 12)
    expected = e3nn.o3.angles_to_xyz(alphas[None, :], betas[:, None])
    torch.testing.assert_close(grid.directions, expected, atol=1e-14, rtol=0)
    assert isinstance(grid, SphericalGrid) and grid.directions.shape == (7, 12, 3)


def test_evaluate_on_grid_equals_evaluate_at_its_directions(float64: None) -> None:
    coeffs = torch.randn(2, 3, 16)
    grid = s2_grid(5, 8)
    on_grid = evaluate(coeffs, grid)
    assert on_grid.shape == (2, 3, 5, 8)
    at = evaluate_at(coeffs, grid.directions.reshape(1, 1, 40, 3))
    torch.testing.assert_close(on_grid.reshape(2, 3, 40), at, atol=1e-12, rtol=0)


def test_evaluate_at_is_the_e3nn_sh_expansion(float64: None) -> None:
    coeffs = torch.randn(9)
    x = torch.randn(20, 3)
    Y = e3nn.o3.spherical_harmonics([0, 1, 2], x, True, normalization="component")
    torch.testing.assert_close(evaluate_at(coeffs, x, "component"), Y @ coeffs, atol=1e-10, rtol=0)
    # the constant signal: Y0 = 1 / sqrt(4 pi) in integral normalization
    constant = evaluate_at(torch.tensor([1.0, 0, 0, 0]), x)
    torch.testing.assert_close(constant, torch.full((20,), 1 / math.sqrt(4 * math.pi)))


def test_float32_and_bad_input() -> None:
    grid = s2_grid(4, 6)
    assert grid.betas.dtype == torch.float32
    assert evaluate(torch.randn(4), grid).dtype == torch.float32
    with pytest.raises(ValueError, match="coefficient size 5"):
        evaluate(torch.randn(5), grid)
    with pytest.raises(ValueError, match="res_beta=0"):
        s2_grid(0, 4)
    with pytest.raises(ValueError, match=r"\[\.\.\., P, 3\]"):
        evaluate_at(torch.randn(4), torch.randn(3))
