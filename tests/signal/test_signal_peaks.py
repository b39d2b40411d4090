"""find_peaks: recovers vectors from their signals, several peaks, poles, thresholds, batches."""

from __future__ import annotations

import math

import pytest
import torch

from e3lab.o3 import Irreps, rand_matrix
from e3lab.signal import find_peaks, from_vectors


def _angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = torch.broadcast_tensors(a, b)
    return torch.rad2deg(torch.atan2(torch.linalg.cross(a, b).norm(dim=-1), (a * b).sum(-1)))


@pytest.mark.parametrize("lmax", [3, 4, 5, 6, 7, 8])
def test_recovers_random_vectors(float64: None, lmax: int) -> None:
    vectors = torch.randn(12, 1, 3)
    peaks, mask = find_peaks(from_vectors(vectors, lmax), padded=True)
    assert mask.sum(-1).eq(1).all(), "each one-vector signal has exactly one peak"
    found, true = peaks[:, 0], vectors[:, 0]
    assert _angle_deg(found, true).max() < 1.0
    assert ((found.norm(dim=-1) - true.norm(dim=-1)).abs() / true.norm(dim=-1)).max() < 0.01


def test_refinement_goes_far_beyond_the_grid(float64: None) -> None:
    d = torch.tensor([[0.31, -0.77, 0.52]])
    (peak,) = find_peaks(from_vectors(d, 5), res=8)  # grid steps of 22.5 degrees
    assert _angle_deg(peak, d[0]) < 1e-5


def test_antipodal_pair_gives_two_peaks(float64: None) -> None:
    d = torch.tensor([0.3, -0.7, 0.5])
    pair = torch.stack([d, -d])
    for lmax in (2, 5, 8):
        peaks = find_peaks(from_vectors(pair, lmax))
        assert peaks.shape == (2, 3)
        order = _angle_deg(peaks[:, None], pair[None]).argmin(dim=0)
        torch.testing.assert_close(peaks[order], pair, atol=1e-6, rtol=0)


@pytest.mark.parametrize("lmax", [5, 8])
def test_mirror_pair_gives_two_symmetric_peaks(float64: None, lmax: int) -> None:
    # Task 2: a node on a mirror plane (normal y) gets the displacement d and its mirror image
    d = 0.8 * torch.tensor([math.cos(math.pi / 4), math.sin(math.pi / 4), 0.3])
    mirror = torch.tensor([1.0, -1.0, 1.0])
    pair = torch.stack([d, d * mirror])
    peaks = find_peaks(from_vectors(pair, lmax))
    assert peaks.shape == (2, 3)
    torch.testing.assert_close(peaks[0], peaks[1] * mirror, atol=1e-7, rtol=0)
    nearest = _angle_deg(peaks[:, None], pair[None]).min(dim=0).values
    assert nearest.max() < 3.0  # the interpolated signal's peak sits near, not at, the vector
    assert ((peaks.norm(dim=-1) - d.norm()).abs() / d.norm()).max() < 0.01


def test_peaks_at_the_poles_and_across_the_alpha_wrap(float64: None) -> None:
    # e3nn's grid has +y at beta = 0 and alpha = 0 at +z
    vectors = torch.tensor([[[0.0, 2.0, 0.0]], [[0.0, -1.5, 0.0]], [[0.01, 0.3, 1.0]], [[-0.01, -0.2, 1.0]]])
    peaks, mask = find_peaks(from_vectors(vectors, 6), padded=True)
    assert mask.sum(-1).tolist() == [1, 1, 1, 1]
    torch.testing.assert_close(peaks[:, 0], vectors[:, 0], atol=1e-7, rtol=0)


def test_peaks_are_equivariant(float64: None) -> None:
    vectors = torch.randn(3, 3)
    coeffs = from_vectors(vectors, 6)
    R = -rand_matrix()
    rotated = find_peaks(Irreps.spherical_harmonics(6, p=-1).D_from_matrix(R) @ coeffs)
    peaks = find_peaks(coeffs)
    assert rotated.shape == peaks.shape
    torch.testing.assert_close(rotated, peaks @ R.T, atol=1e-7, rtol=0)


def test_thresholds_and_merging(float64: None) -> None:
    d = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.6]])
    coeffs = from_vectors(d, 6)
    assert find_peaks(coeffs).shape[0] == 2
    assert find_peaks(coeffs, relative_threshold=0.7).shape[0] == 1  # 0.6 < 0.7 * 1.0
    assert find_peaks(coeffs, min_value=0.65).shape[0] == 1
    assert find_peaks(coeffs, min_separation_deg=100.0).shape[0] == 1  # 90 degrees apart
    assert find_peaks(torch.zeros(16)).shape == (0, 3)


def test_batches_lists_and_float32() -> None:
    vectors = torch.randn(2, 3, 1, 3)
    coeffs = from_vectors(vectors, 4)
    as_list = find_peaks(coeffs)
    assert isinstance(as_list, list) and len(as_list) == 6
    peaks, mask = find_peaks(coeffs, padded=True)
    assert peaks.shape[:2] == (2, 3) and peaks.dtype == torch.float32
    for k, p in enumerate(as_list):
        torch.testing.assert_close(peaks.reshape(6, -1, 3)[k][mask.reshape(6, -1)[k]], p)
    assert _angle_deg(peaks[..., 0, :], vectors[..., 0, :]).max() < 0.05


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="lmax=2 does not match"):
        find_peaks(torch.randn(16), lmax=2)
    with pytest.raises(ValueError, match="relative_threshold=2"):
        find_peaks(torch.randn(16), relative_threshold=2)
    with pytest.raises(TypeError, match="floating point"):
        find_peaks(torch.ones(4, dtype=torch.long))


def test_works_under_inference_mode(float64: None) -> None:
    vectors = torch.randn(2, 1, 3)
    with torch.inference_mode():
        peaks, _ = find_peaks(from_vectors(vectors, 4), padded=True)
    assert _angle_deg(peaks[:, 0], vectors[:, 0]).max() < 1e-5
