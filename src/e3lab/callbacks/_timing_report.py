"""Render a per-stage timing breakdown as metrics, a CSV, a markdown table and a bar chart."""

from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["TIMING_COLUMNS", "timing_metrics", "timing_rows", "write_timing_files"]

TIMING_COLUMNS = ("stage", "fwd_ms", "bwd_ms", "total_ms", "share")


def timing_metrics(breakdown: dict[str, dict[str, float]]) -> dict[str, float]:
    """``timing/<stage>_fwd_ms``, ``timing/<stage>_bwd_ms``, ``timing/<stage>_ms`` and ``timing/total_ms``."""
    metrics: dict[str, float] = {}
    for stage, t in breakdown.items():
        metrics[f"timing/{stage}_fwd_ms"] = t["fwd"]
        metrics[f"timing/{stage}_bwd_ms"] = t["bwd"]
        metrics[f"timing/{stage}_ms"] = t["total"]
    metrics["timing/total_ms"] = sum(t["total"] for t in breakdown.values())
    return metrics


def timing_rows(breakdown: dict[str, dict[str, float]]) -> list[list[str | float]]:
    """One row per stage plus ``total``, in :data:`TIMING_COLUMNS` order (share of the total time)."""
    total = sum(t["total"] for t in breakdown.values())
    fwd = sum(t["fwd"] for t in breakdown.values())
    rows: list[list[str | float]] = [
        [stage, t["fwd"], t["bwd"], t["total"], t["total"] / total if total > 0 else 0.0]
        for stage, t in breakdown.items()
    ]
    rows.append(["total", fwd, total - fwd, total, 1.0 if total > 0 else 0.0])
    return rows


def write_timing_files(breakdown: dict[str, dict[str, float]], stem: Path, title: str) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.md`` and ``<stem>.png``; returns their paths by suffix."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    rows = timing_rows(breakdown)
    paths = {"csv": stem.with_suffix(".csv"), "md": stem.with_suffix(".md"), "png": stem.with_suffix(".png")}
    with paths["csv"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TIMING_COLUMNS)
        writer.writerows([[r[0], *(f"{v:.6g}" for v in r[1:])] for r in rows])
    lines = [
        f"# {title}",
        "",
        "| stage | forward (ms) | backward (ms) | total (ms) | share |",
        "|---|---:|---:|---:|---:|",
        *(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {100 * r[4]:.1f}% |" for r in rows),
    ]
    paths["md"].write_text("\n".join(lines) + "\n")
    _bar_chart(breakdown, title).savefig(paths["png"], dpi=100)
    return paths


def _bar_chart(breakdown: dict[str, dict[str, float]], title: str) -> Figure:
    """Horizontal stacked bars: forward then backward milliseconds per stage."""
    stages = list(breakdown)
    fwd = [breakdown[s]["fwd"] for s in stages]
    bwd = [breakdown[s]["bwd"] for s in stages]
    fig = Figure(figsize=(7, 0.45 * len(stages) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(stages, fwd, label="forward", color="tab:blue")
    ax.barh(stages, bwd, left=fwd, label="backward", color="tab:orange")
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig
