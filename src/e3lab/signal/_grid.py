"""Spherical signals on a (beta, alpha) grid and at chosen directions.

A signal is a coefficient vector ``coeffs: [..., (lmax+1)^2]`` laid out by
``Irreps.spherical_harmonics(lmax, p=-1)`` (``0e + 1o + 2e + ...``); its value at a unit vector ``x``
is ``sum_l coeffs_l . Y^l(x)``, with the spherical harmonics in the same ``normalization`` that
built the coefficients.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from e3lab.o3 import spherical_harmonics

NORMALIZATIONS = ("integral", "component", "norm")


def lmax_from_dim(dim: int) -> int:
    """The ``lmax`` of a coefficient vector of size ``dim = (lmax+1)^2``."""
    lmax = math.isqrt(dim) - 1
    if dim < 1 or (lmax + 1) ** 2 != dim:
        raise ValueError(
            f"coefficient size {dim} is not (lmax+1)^2 for any lmax; pass coefficients laid out by "
            "Irreps.spherical_harmonics(lmax) (sizes 1, 4, 9, 16, ...)"
        )
    return lmax


def check_normalization(normalization: str) -> None:
    """Raise ``ValueError`` unless ``normalization`` is one of e3nn's three."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization={normalization!r} is not one of {NORMALIZATIONS}")


def _check_coeffs(coeffs: torch.Tensor) -> int:
    if not isinstance(coeffs, torch.Tensor):
        raise TypeError(f"coeffs must be a torch.Tensor, got {type(coeffs).__name__}")
    if coeffs.ndim == 0:
        raise ValueError("coeffs is a scalar; pass a tensor of shape [..., (lmax+1)^2]")
    return lmax_from_dim(coeffs.shape[-1])


class SphericalGrid(NamedTuple):
    """e3nn's S2 grid: ``betas: [res_beta]`` (polar angle from +y), ``alphas: [res_alpha]``.

    Unpacks like e3nn's ``s2_grid``: ``betas, alphas = s2_grid(res_beta, res_alpha)``.
    """

    betas: torch.Tensor
    alphas: torch.Tensor

    @property
    def res_beta(self) -> int:
        return self.betas.shape[0]

    @property
    def res_alpha(self) -> int:
        return self.alphas.shape[0]

    @property
    def directions(self) -> torch.Tensor:
        """Unit vectors ``[res_beta, res_alpha, 3]``: ``(sin b sin a, cos b, sin b cos a)``."""
        b = self.betas[:, None]
        a = self.alphas[None, :]
        return torch.stack(
            torch.broadcast_tensors(torch.sin(b) * torch.sin(a), torch.cos(b), torch.sin(b) * torch.cos(a)),
            dim=-1,
        )

    @property
    def spacing(self) -> float:
        """The larger of the two angular steps, in radians."""
        return max(math.pi / self.res_beta, 2 * math.pi / self.res_alpha)


def s2_grid(
    res_beta: int,
    res_alpha: int,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> SphericalGrid:
    """e3nn's S2 grid: ``beta_i = (i + 1/2) pi / res_beta`` (no point on a pole) and
    ``alpha_j = 2 pi j / res_alpha``."""
    for name, value in (("res_beta", res_beta), ("res_alpha", res_alpha)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive int")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    betas = (torch.arange(res_beta, dtype=dtype, device=device) + 0.5) / res_beta * math.pi
    alphas = torch.arange(res_alpha, dtype=dtype, device=device) / res_alpha * 2 * math.pi
    return SphericalGrid(betas, alphas)


def evaluate_at(
    coeffs: torch.Tensor, directions: torch.Tensor, normalization: str = "integral"
) -> torch.Tensor:
    """The signal at ``directions: [..., P, 3]`` (normalized here): ``coeffs: [..., dim] -> [..., P]``.

    Leading dimensions broadcast. Differentiable in both arguments.
    """
    lmax = _check_coeffs(coeffs)
    check_normalization(normalization)
    if directions.ndim < 2 or directions.shape[-1] != 3:
        raise ValueError(
            f"directions has shape {tuple(directions.shape)}; expected [..., P, 3] (use directions[None] "
            "for a single direction)"
        )
    Y = spherical_harmonics(list(range(lmax + 1)), directions, True, normalization=normalization)
    return torch.einsum("...pi,...i->...p", Y, coeffs)


def evaluate(coeffs: torch.Tensor, grid: SphericalGrid, normalization: str = "integral") -> torch.Tensor:
    """The signal on ``grid``: ``coeffs: [..., dim] -> [..., res_beta, res_alpha]``."""
    lmax = _check_coeffs(coeffs)
    check_normalization(normalization)
    directions = grid.directions.to(dtype=coeffs.dtype, device=coeffs.device)
    Y = spherical_harmonics(list(range(lmax + 1)), directions, True, normalization=normalization)
    return torch.einsum("bai,...i->...ba", Y, coeffs)
