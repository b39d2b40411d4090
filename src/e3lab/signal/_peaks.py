"""Peaks of spherical signals: grid local maxima, refined off the grid by Newton steps on the sphere."""

from __future__ import annotations

import math

import torch

from e3lab.signal._grid import evaluate, evaluate_at, lmax_from_dim, s2_grid


def _local_maxima(values: torch.Tensor) -> torch.Tensor:
    """``values: [B, res_beta, res_alpha]`` on e3nn's grid -> bool mask of points >= their 8 neighbours.

    Alpha wraps around; the neighbour of the first (last) beta row across the pole is the same row
    turned by half a revolution.
    """
    half = values.shape[-1] // 2
    across_north = torch.roll(values[:, :1], shifts=-half, dims=-1)
    across_south = torch.roll(values[:, -1:], shifts=-half, dims=-1)
    padded = torch.cat([across_north, values, across_south], dim=1)
    res_beta = values.shape[1]
    is_max = torch.ones_like(values, dtype=torch.bool)
    for db in (-1, 0, 1):
        rows = padded[:, 1 + db : 1 + db + res_beta]
        for da in (-1, 0, 1):
            if db == 0 and da == 0:
                continue
            is_max &= values >= torch.roll(rows, shifts=da, dims=-1)
    return is_max


def _tangent_basis(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two unit vectors ``[M, 3]`` orthogonal to the unit vectors ``x: [M, 3]`` and to each other."""
    axis = torch.zeros_like(x)
    axis.scatter_(1, x.abs().argmin(dim=1, keepdim=True), 1.0)
    e1 = torch.nn.functional.normalize(torch.linalg.cross(x, axis), dim=1)
    return e1, torch.linalg.cross(x, e1)


def _refine(
    coeffs: torch.Tensor, x: torch.Tensor, normalization: str, steps: int, max_step: float
) -> torch.Tensor:
    """Move unit vectors ``x: [M, 3]`` uphill on the signals ``coeffs: [M, dim]``; returns ``[M, 3]``.

    Each step is a Newton step in the gnomonic chart at ``x`` where the chart Hessian is negative
    definite, otherwise a gradient step; steps are capped at ``max_step`` radians. Stops early once
    every step is below the square root of the dtype's epsilon.
    """
    tiny = torch.finfo(x.dtype).tiny ** 0.5
    converged = torch.finfo(x.dtype).eps ** 0.5
    for _ in range(steps):
        e1, e2 = _tangent_basis(x)
        # works under no_grad and inference_mode too (e.g. in a Lightning validation step)
        with torch.inference_mode(False), torch.enable_grad():
            u = torch.zeros(x.shape[0], 2, dtype=x.dtype, device=x.device, requires_grad=True)
            y = x.clone() + u[:, :1] * e1.clone() + u[:, 1:] * e2.clone()
            f = evaluate_at(coeffs.clone(), y[:, None, :], normalization)[:, 0]
            (g,) = torch.autograd.grad(f.sum(), u, create_graph=True)
            (h0,) = torch.autograd.grad(g[:, 0].sum(), u, retain_graph=True)
            (h1,) = torch.autograd.grad(g[:, 1].sum(), u)
        g, h00, h01, h11 = g.detach(), h0[:, 0].detach(), h0[:, 1].detach(), h1[:, 1].detach()
        det = h00 * h11 - h01 * h01
        concave = (det > 0) & (h00 + h11 < 0)
        det = torch.where(concave, det, torch.ones_like(det))
        adj_g = torch.stack([h11 * g[:, 0] - h01 * g[:, 1], h00 * g[:, 1] - h01 * g[:, 0]], dim=1)
        newton = -adj_g / det[:, None]
        g_norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)
        ascent = g / (g_norm + tiny) * (0.5 * max_step)
        step = torch.where(concave[:, None], newton, ascent)
        length = torch.linalg.vector_norm(step, dim=1, keepdim=True)
        step = step * torch.clamp(max_step / (length + tiny), max=1.0)
        x = torch.nn.functional.normalize(x + step[:, :1] * e1 + step[:, 1:] * e2, dim=1)
        if length.numel() == 0 or length.max() < converged:
            break  # Newton converges quadratically: the error left is about the square of this step
    return x


def _select(
    x: torch.Tensor, values: torch.Tensor, min_value: float, relative_threshold: float, min_cos: float
) -> torch.Tensor:
    """Peaks ``[P, 3]`` of one signal from refined candidates ``x: [M, 3]`` with ``values: [M]``."""
    if values.numel() == 0:
        return x.new_zeros(0, 3)
    keep = (values > min_value) & (values >= relative_threshold * values.max())
    order = torch.argsort(values[keep], descending=True)
    x, values = x[keep][order], values[keep][order]
    cos = (x @ x.T).tolist()  # one transfer, then a short greedy loop on the host
    kept: list[int] = []
    for i in range(x.shape[0]):
        if all(cos[i][j] < min_cos for j in kept):
            kept.append(i)
    return x[kept] * values[kept, None]


def find_peaks(
    coeffs: torch.Tensor,
    lmax: int | None = None,
    res: int | None = None,
    min_value: float = 0.0,
    relative_threshold: float = 0.5,
    min_separation_deg: float = 10.0,
    normalization: str = "integral",
    steps: int = 8,
    padded: bool = False,
) -> torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, torch.Tensor]:
    """Peak vectors (unit direction times the signal value there) of signals ``coeffs: [..., (lmax+1)^2]``.

    Local maxima on an S2 grid of ``res x 2 res`` points (default ``res = max(4 (lmax + 1), 16)``),
    neighbours taken across the poles and the alpha wrap, are refined off the grid by ``steps``
    Newton steps on the sphere (float64 directions converge far below 1e-6 degree). Peaks closer
    than ``min_separation_deg`` merge into the higher one; peaks with value ``<= min_value`` or below
    ``relative_threshold`` times the signal's highest peak are dropped (only positive peaks are
    returned: a vector cannot carry a negative length). Peaks are sorted by decreasing value.

    Returns:
        for ``coeffs: [dim]``, a tensor ``[P, 3]``; for a batch ``[..., dim]``, a list of ``[P_i, 3]``
        tensors in row-major order of the batch; with ``padded=True``, ``(peaks [..., P_max, 3],
        mask [..., P_max])`` with zeros where ``mask`` is False.
    """
    if not isinstance(coeffs, torch.Tensor) or not coeffs.is_floating_point() or coeffs.ndim == 0:
        raise TypeError("coeffs must be a floating point torch.Tensor of shape [..., (lmax+1)^2]")
    dim = coeffs.shape[-1]
    inferred = lmax_from_dim(dim)
    if lmax is not None and lmax != inferred:
        raise ValueError(
            f"lmax={lmax} does not match coeffs of size {dim} (lmax={inferred}); drop lmax or fix it"
        )
    if res is not None and (not isinstance(res, int) or res < 4):
        raise ValueError(f"res={res!r} must be an int >= 4 (grid of res x 2 res points)")
    if not 0.0 <= relative_threshold <= 1.0:
        raise ValueError(f"relative_threshold={relative_threshold} must lie in [0, 1]")
    if not 0.0 <= min_separation_deg <= 180.0:
        raise ValueError(f"min_separation_deg={min_separation_deg} must lie in [0, 180]")
    res_beta = res if res is not None else max(4 * (inferred + 1), 16)
    grid = s2_grid(res_beta, 2 * res_beta, dtype=coeffs.dtype, device=coeffs.device)

    batch_shape = coeffs.shape[:-1]
    c = coeffs.detach().reshape(-1, dim)
    values = evaluate(c, grid, normalization)  # [B, res_beta, 2 res_beta]
    grid_max = values.flatten(1).amax(dim=1)
    prefilter = torch.clamp(0.8 * relative_threshold * grid_max, min=min_value)
    candidate = _local_maxima(values) & (values > prefilter[:, None, None])
    b, i, j = candidate.nonzero(as_tuple=True)
    x = _refine(c[b], grid.directions[i, j], normalization, steps, grid.spacing)
    refined = evaluate_at(c[b], x[:, None, :], normalization)[:, 0]

    min_cos = math.cos(math.radians(min_separation_deg))
    peaks = [
        _select(x[b == k], refined[b == k], min_value, relative_threshold, min_cos) for k in range(c.shape[0])
    ]
    if padded:
        p_max = max((p.shape[0] for p in peaks), default=0)
        out = c.new_zeros(c.shape[0], p_max, 3)
        mask = torch.zeros(c.shape[0], p_max, dtype=torch.bool, device=c.device)
        for k, p in enumerate(peaks):
            out[k, : p.shape[0]] = p
            mask[k, : p.shape[0]] = True
        return out.reshape(*batch_shape, p_max, 3), mask.reshape(*batch_shape, p_max)
    return peaks[0] if coeffs.ndim == 1 else peaks
