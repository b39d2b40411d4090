"""Render a per-stage timing breakdown as metrics, a CSV, a markdown table and a bar chart.

A breakdown is ``{stage: {<phase>: ms, ..., "total": ms}}`` (see ``attribute_stages``): phases ``fwd``
and ``bwd`` for a plain training step; ``fwd`` (energy), ``forces`` (``-dE/dpos`` with
``create_graph=True``) and ``bwd`` (the loss's backward through the forces: the double backward) for a
potential's force-training step.
"""

from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["phase_labels", "timing_columns", "timing_metrics", "timing_rows", "write_timing_files"]

Breakdown = dict[str, dict[str, float]]
_LABELS = {"fwd": "forward", "forces": "forces (1st backward)", "stress": "stress (1st backward)"}
_COLORS = {"fwd": "tab:blue", "forces": "tab:green", "stress": "tab:olive", "bwd": "tab:orange"}


def _phases(breakdown: Breakdown) -> list[str]:
    first = next(iter(breakdown.values()), {"fwd": 0.0, "bwd": 0.0})
    return [p for p in first if p != "total"]


def phase_labels(breakdown: Breakdown) -> dict[str, str]:
    """Human names of the phases: ``bwd`` is "backward", or "double backward (loss)" after a force phase."""
    phases = _phases(breakdown)
    second_order = any(p in phases for p in ("forces", "stress"))
    return {
        p: ("double backward (loss)" if second_order else "backward") if p == "bwd" else _LABELS.get(p, p)
        for p in phases
    }


def timing_columns(breakdown: Breakdown) -> tuple[str, ...]:
    """``("stage", "<phase>_ms", ..., "total_ms", "share")``: e.g. ``fwd_ms, bwd_ms`` for a plain step."""
    return ("stage", *(f"{p}_ms" for p in _phases(breakdown)), "total_ms", "share")


def timing_metrics(breakdown: Breakdown) -> dict[str, float]:
    """``timing/<stage>_<phase>_ms``, ``timing/<stage>_ms``, ``timing/total_<phase>_ms`` and
    ``timing/total_ms``."""
    metrics: dict[str, float] = {}
    phases = _phases(breakdown)
    for stage, t in breakdown.items():
        for phase in phases:
            metrics[f"timing/{stage}_{phase}_ms"] = t[phase]
        metrics[f"timing/{stage}_ms"] = t["total"]
    for phase in phases:
        metrics[f"timing/total_{phase}_ms"] = sum(t[phase] for t in breakdown.values())
    metrics["timing/total_ms"] = sum(t["total"] for t in breakdown.values())
    return metrics


def timing_rows(breakdown: Breakdown) -> list[list[str | float]]:
    """One row per stage plus ``total``, in :func:`timing_columns` order (share of the total time)."""
    phases = _phases(breakdown)
    total = sum(t["total"] for t in breakdown.values())
    rows: list[list[str | float]] = [
        [stage, *(t[p] for p in phases), t["total"], t["total"] / total if total > 0 else 0.0]
        for stage, t in breakdown.items()
    ]
    sums = [sum(t[p] for t in breakdown.values()) for p in phases]
    rows.append(["total", *sums, total, 1.0 if total > 0 else 0.0])
    return rows


def write_timing_files(breakdown: Breakdown, stem: Path, title: str) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.md`` and ``<stem>.png``; returns their paths by suffix."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    rows = timing_rows(breakdown)
    labels = phase_labels(breakdown)
    paths = {"csv": stem.with_suffix(".csv"), "md": stem.with_suffix(".md"), "png": stem.with_suffix(".png")}
    with paths["csv"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(timing_columns(breakdown))
        writer.writerows([[r[0], *(f"{v:.6g}" for v in r[1:])] for r in rows])
    header = ["stage", *(f"{label} (ms)" for label in labels.values()), "total (ms)", "share"]
    lines = [
        f"# {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *(
            "| " + " | ".join([str(r[0]), *(f"{v:.3f}" for v in r[1:-1]), f"{100 * r[-1]:.1f}%"]) + " |"
            for r in rows
        ),
    ]
    paths["md"].write_text("\n".join(lines) + "\n")
    _bar_chart(breakdown, title).savefig(paths["png"], dpi=100)
    return paths


def _bar_chart(breakdown: Breakdown, title: str) -> Figure:
    """Horizontal stacked bars: each phase's milliseconds per stage, in step order."""
    stages = list(breakdown)
    fig = Figure(figsize=(7, 0.45 * len(stages) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    left = [0.0] * len(stages)
    for phase, label in phase_labels(breakdown).items():
        values = [breakdown[s][phase] for s in stages]
        ax.barh(stages, values, left=left, label=label, color=_COLORS.get(phase))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=3, frameon=False)
    return fig
