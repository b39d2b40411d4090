"""Radial bases: a soft one-hot encoding of a scalar on evenly spaced centres."""

from __future__ import annotations

import math

import torch

from ._soft_unit_step import _FLAT

BASES = ("gaussian", "cosine", "smooth_finite", "fourier", "bessel")

# Normalisation of the smooth_finite basis (e3nn's value), so that the sum of squares is ~1.
_SMOOTH_FINITE_SCALE = 1.14136 * math.exp(2.0)


def soft_one_hot_linspace(
    x: torch.Tensor,
    start: float,
    end: float,
    number: int,
    basis: str | None = None,
    cutoff: bool | None = None,
) -> torch.Tensor:
    r"""Project ``x`` on ``number`` basis functions spread evenly over ``[start, end]``.

    The bases are normalised so that :math:`\sum_i y_i(x)^2 \approx 1` on the interval (except
    ``bessel``, whose :math:`1/x` factor cannot be normalised).

    Args:
        x: ``[...]`` values to embed.
        start: lower end of the interval covered by the basis.
        end: upper end of the interval covered by the basis.
        number: number of basis functions ``N``.
        basis: one of ``"gaussian"``, ``"cosine"``, ``"smooth_finite"``, ``"fourier"``, ``"bessel"``.
        cutoff: must be a bool. ``True`` makes every function vanish outside ``(start, end)``
            (centres ``linspace(start, end, N + 2)[1:-1]``); ``False`` puts the centres on
            ``linspace(start, end, N)``.

    Returns:
        ``[..., N]``, same dtype and device as ``x``.
    """
    if not isinstance(cutoff, bool):
        raise ValueError(f"cutoff={cutoff!r} is not a bool: pass cutoff=True or cutoff=False")
    if basis not in BASES:
        raise ValueError(f"basis={basis!r} is not a valid basis: choose one of {', '.join(BASES)}")
    if not isinstance(number, int) or number < 1:
        raise ValueError(f"number={number!r} must be a positive int (the number of basis functions)")
    if start == end:
        raise ValueError(f"start == end == {start!r}: the basis needs an interval, give end != start")

    if basis == "fourier":
        return _fourier(x, start, end, number, cutoff)
    if basis == "bessel":
        return _bessel(x, start, end, number, cutoff)

    count = number + 2 if cutoff else number
    centres = torch.linspace(start, end, count, dtype=x.dtype, device=x.device)
    step = centres[1] - centres[0]
    if cutoff:
        centres = centres[1:-1]
    d = (x[..., None] - centres) / step

    if basis == "gaussian":
        return torch.exp(-d.pow(2)) / 1.12
    if basis == "cosine":
        inside = (d > -1) & (d < 1)
        return torch.cos(0.5 * math.pi * d) * inside
    return _smooth_finite(d)


def _smooth_finite(d: torch.Tensor) -> torch.Tensor:
    """``C u(1 + d) u(1 - d)`` with ``u`` the soft unit step, as one exponential: on ``|d| < 1`` it is
    ``C exp(-1/(1+d) - 1/(1-d)) = C exp(-2 / (1 - d^2))`` (half the ops of two steps, forward and backward).

    Zero where ``1 - d^2 <= 2e-3`` (there the exponential underflows to 0 in float64 anyway, as in
    ``soft_unit_step``'s flat part), which keeps the derivatives finite.
    """
    q = 1 - d * d
    inside = q > 2 * _FLAT
    return torch.where(inside, _SMOOTH_FINITE_SCALE * torch.exp(-2.0 / torch.where(inside, q, 1.0)), 0.0)


def _fourier(x: torch.Tensor, start: float, end: float, number: int, cutoff: bool) -> torch.Tensor:
    """Cosine series (no cutoff) or sine series vanishing outside (start, end) (cutoff)."""
    t = (x[..., None] - start) / (end - start)
    norm = math.sqrt(0.25 + number / 2)
    if not cutoff:
        k = torch.arange(number, dtype=x.dtype, device=x.device)
        return torch.cos(math.pi * k * t) / norm
    k = torch.arange(1, number + 1, dtype=x.dtype, device=x.device)
    inside = (t > 0) & (t < 1)
    return torch.sin(math.pi * k * t) / norm * inside


def _bessel(x: torch.Tensor, start: float, end: float, number: int, cutoff: bool) -> torch.Tensor:
    """Spherical Bessel j0 roots: sqrt(2/c) sin(n pi r / c) / r, with r = x - start, c = end - start.

    At ``r = 0`` the value is the limit ``sqrt(2/c) n pi / c`` (e3nn gives NaN there), with derivative 0.
    """
    r = x[..., None] - start
    c = end - start
    n = torch.arange(1, number + 1, dtype=x.dtype, device=x.device)
    at_zero = r == 0
    safe_r = torch.where(at_zero, torch.ones_like(r), r)
    ratio = torch.where(at_zero, n * math.pi / c, torch.sin(n * math.pi * safe_r / c) / safe_r)
    out = math.sqrt(2 / c) * ratio
    if not cutoff:
        return out
    inside = (r > 0) & (r < c)
    return out * inside
