"""Pictures of spherical signals (matplotlib, or plotly when installed) and of the symmetry tutorial's tasks.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no ``show``), so they work
under any backend, including "Agg", and can be saved with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from e3lab.signal._grid import check_normalization, evaluate, lmax_from_dim, s2_grid

if TYPE_CHECKING:
    import plotly.graph_objects as go

_MODES = ("abs", "positive")


def _surfaces(
    coeffs: torch.Tensor,
    center: torch.Tensor | Sequence[float],
    res: int,
    scale: float,
    mode: str,
    normalization: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Surface points ``[N, res+1, 2 res+1, 3]`` and colour values ``[N, res+1, 2 res+1]`` of ``N`` signals.

    ``coeffs: [dim]`` or ``[N, dim]``; ``center: [3]`` or ``[N, 3]``. The grid is closed in alpha
    (the first column repeated) and reaches both poles, so the surface has no seam or holes.
    """
    if not isinstance(coeffs, torch.Tensor) or coeffs.ndim not in (1, 2):
        raise ValueError("coeffs must be a tensor [dim] or [N, dim] (one signal per centre)")
    lmax_from_dim(coeffs.shape[-1])
    check_normalization(normalization)
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r} is not one of {_MODES}")
    if not isinstance(res, int) or res < 2:
        raise ValueError(f"res={res!r} must be an int >= 2")
    coeffs = coeffs.detach().to(torch.float64).cpu().reshape(-1, coeffs.shape[-1])
    center = torch.as_tensor(center, dtype=torch.float64).detach().cpu().reshape(-1, 3)
    if center.shape[0] not in (1, coeffs.shape[0]):
        raise ValueError(
            f"center has {center.shape[0]} rows for {coeffs.shape[0]} signals; pass [3] or [N, 3]"
        )

    grid = s2_grid(res - 1, 2 * res, dtype=torch.float64)
    betas = torch.cat([grid.betas.new_zeros(1), grid.betas, grid.betas.new_full((1,), torch.pi)])
    grid = type(grid)(betas, torch.cat([grid.alphas, grid.alphas[:1] + 2 * torch.pi]))
    values = evaluate(coeffs, grid, normalization)  # [N, res+1, 2 res+1]
    radius = values.abs() if mode == "abs" else values.clamp(min=0)
    points = center[:, None, None, :] + scale * radius[..., None] * grid.directions
    colours = torch.sign(values) if mode == "abs" else values
    return points, colours


def plot_signal_3d(
    coeffs: torch.Tensor,
    center: torch.Tensor | Sequence[float] = (0.0, 0.0, 0.0),
    ax: Axes | None = None,
    res: int = 40,
    scale: float = 1.0,
    mode: str = "abs",
    normalization: str = "integral",
) -> Figure:
    """Draw signals ``coeffs: [dim]`` or ``[N, dim]`` as 3D surfaces around ``center: [3]`` or ``[N, 3]``.

    The surface point in direction ``x`` is ``center + scale * r(x) x``. ``mode="abs"``: ``r = |f(x)|``,
    red where the signal is positive and blue where negative; ``mode="positive"``: ``r = max(f(x), 0)``
    coloured by value. Draws into ``ax`` (a 3D axes) when given; returns the figure.
    """
    points, colours = _surfaces(coeffs, center, res, scale, mode, normalization)
    if ax is None:
        fig = Figure(figsize=(6, 6))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = ax.get_figure()
    cmap = matplotlib.colormaps["coolwarm" if mode == "abs" else "viridis"]
    for p, c in zip(points.numpy(), colours.numpy(), strict=True):
        span = max(c.max() - c.min(), 1e-12)
        ax.plot_surface(
            p[..., 0], p[..., 1], p[..., 2], facecolors=cmap((c - c.min()) / span), linewidth=0, shade=False
        )
    low, high = points.flatten(0, -2).amin(0), points.flatten(0, -2).amax(0)
    middle, half = (low + high) / 2, float((high - low).max()) / 2 or 1.0
    ax.set(xlim=_span(middle[0], half), ylim=_span(middle[1], half), zlim=_span(middle[2], half))
    ax.set(xlabel="x", ylabel="y", zlabel="z")
    ax.set_box_aspect((1, 1, 1))
    return fig


def plot_signal_plotly(
    coeffs: torch.Tensor,
    center: torch.Tensor | Sequence[float] = (0.0, 0.0, 0.0),
    res: int = 40,
    scale: float = 1.0,
    mode: str = "abs",
    normalization: str = "integral",
    fig: go.Figure | None = None,
) -> go.Figure:
    """Interactive version of :func:`plot_signal_3d`: one ``go.Surface`` per signal, added to ``fig``.

    Returns a ``plotly.graph_objects.Figure`` (``fig.write_html(path)`` saves it). Needs plotly
    (``pip install "e3lab[plotly]"``).
    """
    try:
        import plotly.graph_objects as go
    except ImportError as error:
        raise ImportError(
            'plot_signal_plotly needs plotly: pip install "e3lab[plotly]" (or pip install plotly)'
        ) from error
    points, colours = _surfaces(coeffs, center, res, scale, mode, normalization)
    fig = fig if fig is not None else go.Figure()
    for p, c in zip(points.numpy(), colours.numpy(), strict=True):
        fig.add_trace(
            go.Surface(
                x=p[..., 0],
                y=p[..., 1],
                z=p[..., 2],
                surfacecolor=c,
                colorscale="RdBu_r" if mode == "abs" else "Viridis",
                showscale=False,
            )
        )
    fig.update_layout(scene_aspectmode="data")
    return fig


def plot_task(
    start: torch.Tensor,
    target: torch.Tensor,
    predicted: torch.Tensor | None = None,
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """The tutorial's 2D picture of a task: ``start: [N, 3]`` shape, ``target: [N, 3]`` shape (x, y drawn).

    Black arrows run from each start point to its target; ``predicted: [N, 3]`` displacements, when
    given, are drawn from the start points in red. Returns the figure (of ``ax`` when given).
    """
    start, target = _as_points("start", start), _as_points("target", target)
    if target.shape != start.shape:
        raise ValueError(f"target has shape {tuple(target.shape)}; expected start's {tuple(start.shape)}")
    if ax is None:
        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()
    closed = torch.cat([torch.arange(start.shape[0]), torch.zeros(1, dtype=torch.long)])
    ax.plot(start[closed, 0], start[closed, 1], "o-", markersize=15, label="start")
    ax.plot(target[closed, 0], target[closed, 1], "o-", markersize=15, label="target")
    _arrows(ax, start, target - start, color="black", zorder=100)
    if predicted is not None:
        predicted = _as_points("predicted", predicted)
        if predicted.shape != start.shape:
            raise ValueError(
                f"predicted has shape {tuple(predicted.shape)}; expected start's {tuple(start.shape)}"
            )
        _arrows(ax, start, predicted, color="tab:red", zorder=101)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig


def _span(middle: torch.Tensor, half: float) -> tuple[float, float]:
    return float(middle) - half, float(middle) + half


def _as_points(name: str, x: Any) -> torch.Tensor:
    x = torch.as_tensor(x).detach().cpu().to(torch.float64)
    if x.ndim != 2 or x.shape[-1] != 3:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected [N, 3]")
    return x


def _arrows(ax: Axes, origins: torch.Tensor, vectors: torch.Tensor, color: str, zorder: int) -> None:
    for o, v in zip(origins.tolist(), vectors.tolist(), strict=True):
        ax.arrow(
            o[0], o[1], v[0], v[1], length_includes_head=True, head_width=0.05, color=color, zorder=zorder
        )
