"""Path diagram of a tensor product: in1 terms on the upper-left side, in2 on the upper-right, outputs below.

Each instruction is a three-legged path from its in1, in2 and output terms to a meeting point between their
centroid and the centre; weighted paths are blue (shaded by weight size) or green, others black.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["draw_paths"]


def _points(a: np.ndarray, b: np.ndarray, n: int) -> list[np.ndarray]:
    """``n`` points evenly spaced strictly between ``a`` and ``b``."""
    return [a + (i + 1) / (n + 1) * (b - a) for i in range(n)]


def _meeting_point(p1: np.ndarray, p2: np.ndarray, po: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Where a path's three legs meet: the centroid of its ends, drawn halfway towards the centre."""
    return 0.5 * (p1 + p2 + po) / 3 + 0.5 * centre


def _path_strength(tp: Any, weight: torch.Tensor | None) -> np.ndarray:
    """Mean square of each instruction's weights, scaled to a maximum of 1 (0 for unweighted paths)."""
    strength = np.zeros(len(tp.instructions))
    with torch.no_grad():
        for index, _, view in tp.weight_views(weight, yield_instruction=True):
            strength[index] = float(view.detach().float().pow(2).mean().cpu()) if view.numel() else 0.0
    top = np.abs(strength).max() if len(strength) else 0.0
    return strength / top if top > 0 else strength


def draw_paths(
    tp: Any, weight: torch.Tensor | None, plot_weight: bool, aspect_ratio: float, ax: Any
) -> tuple:
    """Draw ``tp``'s instructions on ``ax`` (a new figure when ``None``); returns ``(fig, ax)``."""
    import matplotlib
    import matplotlib.pyplot as plt

    if not isinstance(aspect_ratio, (int, float)) or aspect_ratio <= 0:
        raise ValueError(f"aspect_ratio must be a positive number, got {aspect_ratio!r}")
    if ax is None:
        _, ax = plt.subplots()
    fig = ax.get_figure()
    size = 0.1 * max(len(tp.irreps_in1), len(tp.irreps_in2), len(tp.irreps_out), 1)
    corners = [np.array([aspect_ratio * np.cos(a), np.sin(a)]) * size for a in np.arange(6) * np.pi / 3]
    in2_side, in1_side, out_side = (
        (corners[0], corners[1]),
        (corners[3], corners[2]),
        (corners[4], corners[5]),
    )
    for a, b in (in1_side, in2_side, out_side):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="black", lw=1)
    s_in1 = _points(*in1_side, len(tp.irreps_in1))
    s_in2 = _points(*in2_side, len(tp.irreps_in2))
    s_out = _points(*out_side, len(tp.irreps_out))
    centre = np.zeros(2)

    plot_weight = plot_weight and (weight is not None or tp.internal_weights) and tp.weight_numel > 0
    strength = _path_strength(tp, weight) if plot_weight else None
    cmap = matplotlib.colormaps["Blues"]
    for index, ins in enumerate(tp.instructions):
        p1, p2, po = s_in1[ins.i_in1], s_in2[ins.i_in2], s_out[ins.i_out]
        meet = _meeting_point(p1, p2, po, centre)
        if not ins.has_weight:
            color = "black"
        else:
            color = cmap(0.5 + 0.5 * strength[index]) if strength is not None else "green"
        for end in (p1, p2, po):
            ax.plot([end[0], meet[0]], [end[1], meet[1]], color=color, alpha=0.5, lw=1.5)

    def label(mul_ir: Any) -> str:
        return f"${mul_ir.ir}$" if mul_ir.mul == 1 else f"${mul_ir.mul} \\times {mul_ir.ir}$"

    style = {"textcoords": "offset points", "fontsize": 10}
    for mul_ir, p in zip(tp.irreps_in1, s_in1, strict=True):
        ax.annotate(label(mul_ir), p, horizontalalignment="right", xytext=(-3, 0), **style)
    for mul_ir, p in zip(tp.irreps_in2, s_in2, strict=True):
        ax.annotate(label(mul_ir), p, horizontalalignment="left", xytext=(3, 0), **style)
    for mul_ir, p in zip(tp.irreps_out, s_out, strict=True):
        ax.annotate(label(mul_ir), p, ha="center", va="top", rotation=90, xytext=(0, -3), **style)
    ax.axis("equal")
    ax.axis("off")
    return fig, ax
