"""from_vectors: interpolation at the vectors, the one-vector formula, zero vectors, equivariance."""

from __future__ import annotations

import e3nn.o3
import pytest
import torch

from e3lab.o3 import Irreps, rand_matrix
from e3lab.signal import evaluate_at, from_vectors


@pytest.mark.parametrize("lmax", [3, 5, 8])
def test_signal_equals_each_norm_at_each_direction(float64: None, lmax: int) -> None:
    vectors = torch.randn(6, 3, 3)  # 6 sets of 3 vectors
    values = evaluate_at(from_vectors(vectors, lmax), vectors)
    torch.testing.assert_close(values, vectors.norm(dim=-1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_one_vector_is_the_tutorial_formula_in_e3nn_basis(float64: None, normalization: str) -> None:
    d = torch.randn(10, 1, 3)
    Y = e3nn.o3.spherical_harmonics(list(range(5)), d, True, normalization=normalization)[:, 0]
    expected = d.norm(dim=-1) * Y / (Y * Y).sum(-1, keepdim=True)
    torch.testing.assert_close(from_vectors(d, 4, normalization), expected, atol=1e-10, rtol=0)


def test_zero_vectors_are_ignored(float64: None) -> None:
    vectors = torch.randn(3, 3)
    with_zeros = torch.cat([vectors[:1], torch.zeros(2, 3), vectors[1:]])
    torch.testing.assert_close(from_vectors(with_zeros, 4), from_vectors(vectors, 4), atol=1e-12, rtol=0)
    all_zero = from_vectors(torch.zeros(2, 3), 4)
    assert torch.equal(all_zero, torch.zeros(25))


def test_batch_matches_one_at_a_time(float64: None) -> None:
    vectors = torch.randn(2, 3, 4, 3)
    vectors[0, 1, 2] = 0.0
    batched = from_vectors(vectors, 3)
    assert batched.shape == (2, 3, 16)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(batched[i, j], from_vectors(vectors[i, j], 3), atol=1e-12, rtol=0)


@pytest.mark.parametrize("inversion", [False, True])
def test_equivariance_with_parity_minus_one_irreps(float64: None, inversion: bool) -> None:
    lmax = 6
    vectors = torch.randn(5, 4, 3)
    R = rand_matrix()
    if inversion:
        R = -R
    D = Irreps.spherical_harmonics(lmax, p=-1).D_from_matrix(R)
    rotated = from_vectors(vectors @ R.T, lmax)
    error = (rotated - from_vectors(vectors, lmax) @ D.T).abs().max()
    assert error < 1e-10


def test_near_degenerate_sets_stay_finite(float64: None) -> None:
    d = torch.tensor([0.3, -0.2, 0.9])
    vectors = torch.stack([d, d * (1 + 1e-12), d + 1e-13])
    coeffs = from_vectors(vectors, 4)
    assert torch.isfinite(coeffs).all()
    torch.testing.assert_close(evaluate_at(coeffs, d[None]), d.norm()[None], atol=1e-6, rtol=0)


def test_float32() -> None:
    vectors = torch.randn(4, 2, 3)
    coeffs = from_vectors(vectors, 4)
    assert coeffs.dtype == torch.float32
    torch.testing.assert_close(evaluate_at(coeffs, vectors), vectors.norm(dim=-1), atol=1e-4, rtol=1e-4)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"vectors\[None\]"):
        from_vectors(torch.randn(3), 2)
    with pytest.raises(ValueError, match="lmax=-1"):
        from_vectors(torch.randn(2, 3), -1)
    with pytest.raises(ValueError, match="normalization='unit'"):
        from_vectors(torch.randn(2, 3), 2, normalization="unit")
    with pytest.raises(TypeError, match="float32 or float64"):
        from_vectors(torch.ones(2, 3, dtype=torch.long), 2)
