"""Figures of ``scripts/report.py``: the loss curve, the shapes tasks' arrow plot and node signals, the timing
bar chart. Each function writes PNGs into ``out_dir`` and returns their file names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from matplotlib.figure import Figure

Metrics = dict[str, float]


def plot_loss(rows: list[dict[str, float]], metrics: Metrics, path: Path) -> bool:
    """Training loss per step (log scale), with the symmetry floor (when above 0) and the all-zero output's
    loss (when known). The loss is ``train/loss``, or ``train/loss_step`` where it is also logged per
    epoch."""
    key = "train/loss" if any("train/loss" in r for r in rows) else "train/loss_step"
    points = [(r["step"], r[key]) for r in rows if key in r]
    if not points:
        return False
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.semilogy(*zip(*points, strict=True), label=key)
    zero = metrics.get("symmetry/zero_output_loss")
    if zero is not None and zero > 0:
        ax.axhline(zero, color="tab:gray", linestyle=":", label="all-zero output")
    floor = metrics.get("symmetry/loss_floor")
    if floor is not None and floor > 1e-12 * (zero or 1.0):
        ax.axhline(floor, color="tab:red", linestyle="--", label="symmetry floor")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def plot_shapes(run_dir: Path, out_dir: Path) -> list[str]:
    """The tutorial's arrow plot and each node's target and predicted signals, from the last checkpoint.

    ``task.png``: start and target shapes (black arrows) and, in red, an arrow to every peak of each
    node's predicted signal (one per node when the target is reached, two symmetric ones at the floor).
    ``signals.png``: per node, the target signal (top row) and the predicted one (bottom row).
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from e3lab._run import register_resolvers
    from e3lab.eval import _model_class
    from e3lab.signal import find_peaks, plot_signal_3d, plot_task

    register_resolvers()
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    if cfg.get("float64"):
        torch.set_default_dtype(torch.float64)
    dm = instantiate(cfg.data)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    model = _model_class(ckpt).load_from_checkpoint(ckpt, map_location="cpu").eval()
    graph = dm.graph()
    with torch.no_grad():
        pred = model.net(graph.x, graph.pos).double()
    pos = graph.pos.double()
    peaks = find_peaks(pred)
    fig = plot_task(pos, pos + dm.displacements().double(), title=f"{cfg.name}: every predicted peak in red")
    ax = fig.axes[0]
    for start, node_peaks in zip(pos.tolist(), peaks, strict=True):
        for v in node_peaks.tolist():
            ax.arrow(
                *start[:2], *v[:2], length_includes_head=True, head_width=0.05, color="tab:red", zorder=101
            )
    fig.savefig(out_dir / "task.png", dpi=120)

    n = pos.shape[0]
    fig = Figure(figsize=(3.2 * n, 6.4), layout="constrained")
    for row, (label, signals) in enumerate((("target", graph.node_target.double()), ("predicted", pred))):
        for node in range(n):
            ax = fig.add_subplot(2, n, row * n + node + 1, projection="3d")
            plot_signal_3d(signals[node], ax=ax, res=30, mode="positive")
            npk = len(find_peaks(signals[node]))
            ax.set_title(f"node {node} {label}\n({npk} peak{'s' if npk != 1 else ''})")
    fig.savefig(out_dir / "signals.png", dpi=100)
    return ["task.png", "signals.png"]


def copy_timing(run_dir: Path, out_dir: Path) -> list[str]:
    """The TimingCallback's bar chart of the last profiled step, as ``timing.png``."""
    charts = sorted((run_dir / "timing").glob("step_*.png"))
    if not charts:
        return []
    shutil.copyfile(charts[-1], out_dir / "timing.png")
    return ["timing.png"]
