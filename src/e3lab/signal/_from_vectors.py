"""Spherical signals that peak at given vectors (the symmetry tutorial's ``from_geometry``)."""

from __future__ import annotations

import torch

from e3lab.o3 import spherical_harmonics
from e3lab.signal._grid import check_normalization


def from_vectors(vectors: torch.Tensor, lmax: int, normalization: str = "integral") -> torch.Tensor:
    """Coefficients of a signal equal to ``|d_b|`` in the direction of each vector ``d_b``.

    Args:
        vectors: ``[..., K, 3]``; zero vectors are ignored (all zero gives the zero signal).
        lmax: highest degree of the signal.
        normalization: of the spherical harmonics, ``"integral"`` (default), ``"component"`` or
            ``"norm"``; evaluate the signal with the same one.

    Returns:
        ``[..., (lmax+1)^2]`` laid out by ``Irreps.spherical_harmonics(lmax, p=-1)`` (``0e + 1o + 2e + ...``).

    The signal is ``sum_a c_a Y(d_a)``, with ``c`` the least-squares (pseudo-inverse) solution of
    ``sum_a c_a Y(d_a) . Y(d_b) = |d_b|``, so near-degenerate sets stay finite. For one vector
    ``d`` this is ``|d| Y(d/|d|) / ||Y(d/|d|)||^2``, whose signal peaks at ``d`` with value ``|d|``.
    Equivariant: ``from_vectors(d @ R.T) = D(R) from_vectors(d)`` for any orthogonal ``R``.
    """
    if not isinstance(vectors, torch.Tensor):
        raise TypeError(f"vectors must be a torch.Tensor, got {type(vectors).__name__}")
    if vectors.ndim < 2 or vectors.shape[-1] != 3:
        raise ValueError(
            f"vectors has shape {tuple(vectors.shape)}; expected [..., K, 3] "
            "(use vectors[None] for one vector)"
        )
    if not isinstance(lmax, int) or isinstance(lmax, bool) or lmax < 0:
        raise ValueError(f"lmax={lmax!r} must be a non-negative int")
    check_normalization(normalization)
    if not vectors.is_floating_point():
        raise TypeError(f"vectors has dtype {vectors.dtype}; pass a float32 or float64 tensor")

    norms = torch.linalg.vector_norm(vectors, dim=-1)  # [..., K]
    mask = (norms > 0).to(vectors.dtype)
    Y = spherical_harmonics(list(range(lmax + 1)), vectors, True, normalization=normalization)
    Y = Y * mask[..., None]  # [..., K, dim]
    gram = Y @ Y.transpose(-1, -2)  # [..., K, K]
    rtol = torch.finfo(vectors.dtype).eps ** 0.5
    c = (torch.linalg.pinv(gram, rtol=rtol, hermitian=True) @ norms[..., None])[..., 0]  # [..., K]
    return torch.einsum("...k,...ki->...i", c, Y)
