"""Run the experiments and write ``experiments/<name>/README.md`` with the results and figures.

    python scripts/report.py                      # run every experiment, then write the reports
    python scripts/report.py tetris --no-run      # rewrite a report from the last run

Each experiment runs as ``python train.py experiment=<name> hydra.run.dir=outputs/report/<name>`` (wall time
measured); the report reads the run's ``status.json`` and CSV metrics, checks the experiment's claim,
draws the loss curve (and, for the shape tasks, the predicted displacements and signals) and writes the
README with the command, what it demonstrates, a results table and the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
Metrics = dict[str, float]


@dataclass(frozen=True)
class Experiment:
    """What an experiment claims and how to check it from its final metrics."""

    name: str
    demonstrates: str
    claim: str
    check: Callable[[Metrics], bool]


def _reaches_target(m: Metrics) -> bool:
    return m["test/loss"] < 0.01 * m["symmetry/zero_output_loss"] and m["test/displacement_error"] < 0.02


def _stuck_at_floor(m: Metrics) -> bool:
    floor = m["symmetry/loss_floor"]
    return floor > 0 and abs(m["test/loss"] - floor) <= 0.02 * floor and round(m["test/num_peaks"]) == 2


EXPERIMENTS = {
    e.name: e
    for e in (
        Experiment(
            "rect_to_square",
            "Seed 001, Task 1: an equivariant network moves the corners of a rectangle onto a square. The "
            "rectangle has less symmetry than the square, so the target is reachable.",
            "test loss < 1% of the all-zero output's loss, displacement error < 0.02",
            _reaches_target,
        ),
        Experiment(
            "square_to_rect",
            "Seed 001, Task 2: the same network cannot turn a square into a rectangle: the output of an "
            "equivariant model has at least the input's symmetry. The loss plateaus at the symmetry floor "
            "(the target's distance to the outputs the square's symmetry group allows), and each node's "
            "signal shows two symmetric peaks instead of one.",
            "test loss within 2% of the symmetry floor, 2 peaks per node",
            _stuck_at_floor,
        ),
        Experiment(
            "square_to_rect_broken",
            "Seed 001, Task 3: an l=2 input proportional to x^2 - y^2 on every node breaks the square's "
            "symmetry down to the rectangle's, and the network reaches the target.",
            "test loss < 1% of the all-zero output's loss, displacement error < 0.02",
            _reaches_target,
        ),
        Experiment(
            "tetris",
            "e3nn's tetris: 8 shapes classified under random rotations; test shapes are freshly rotated and "
            "half of them mirrored (a mirrored chiral_1 is a chiral_2), told apart by an odd scalar output.",
            "100% test accuracy",
            lambda m: m["test/acc"] == 1.0,
        ),
        Experiment(
            "random_clouds",
            "Seed 000: node regression of a fixed random teacher network on random point clouds "
            "('10x0e + 10x1e' inputs, '20x0e + 10x1e' outputs).",
            "test R^2 > 0 (the student learns the teacher)",
            lambda m: m["test/r2"] > 0,
        ),
    )
}


def run(name: str, run_dir: Path) -> float:
    """Train one experiment into ``run_dir``; return the wall time in seconds."""
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"), "WANDB_SILENT": "true"}
    command = [sys.executable, str(ROOT / "train.py"), f"experiment={name}", f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def read_csv(run_dir: Path) -> list[dict[str, float]]:
    """Rows of the CSV logger's metrics file (empty cells dropped)."""
    path = run_dir / "csv" / "metrics.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def plot_loss(rows: list[dict[str, float]], metrics: Metrics, path: Path) -> bool:
    """Training loss per step (log scale), with the symmetry floor when there is one."""
    points = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
    if not points:
        return False
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.semilogy(*zip(*points, strict=True), label="train/loss")
    floor = metrics.get("symmetry/loss_floor")
    if floor is not None and floor > 0:
        ax.axhline(floor, color="tab:red", linestyle="--", label="symmetry floor")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def plot_shapes(run_dir: Path, out_dir: Path) -> list[str]:
    """Predicted displacements (2D, the tutorial's picture) and predicted signals (3D) of the last model."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from e3lab._hydra_utils import register_resolvers
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
        pred = model.net(graph.x, graph.pos)
    target_d = dm.displacements().to(pred.dtype)
    peaks = find_peaks(pred)
    nearest = torch.stack(
        [
            p[(p - d).norm(dim=1).argmin()] if len(p) else torch.zeros(3)
            for p, d in zip(peaks, target_d, strict=True)
        ]
    )
    fig = plot_task(graph.pos, graph.pos + target_d, nearest, title=f"{cfg.name}: predicted (red) vs target")
    fig.savefig(out_dir / "task.png", dpi=120)
    fig = plot_signal_3d(pred, graph.pos, scale=0.5, mode="positive")
    fig.savefig(out_dir / "signals.png", dpi=120)
    return ["task.png", "signals.png"]


def write_readme(
    exp: Experiment, metrics: Metrics, wall: float | None, figures: list[str], out_dir: Path
) -> None:
    """``experiments/<name>/README.md``."""
    ok = exp.check(metrics)
    lines = [
        f"# {exp.name}",
        "",
        exp.demonstrates,
        "",
        "```bash",
        f"python train.py experiment={exp.name}",
        "```",
        "",
        f"**Claim:** {exp.claim}. **Result: {'PASS' if ok else 'FAIL'}.**",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    if wall is not None:
        lines.append(f"| wall time of the command (s) | {wall:.1f} |")
    for key in sorted(metrics):
        if key.startswith(("test/", "symmetry/", "equivariance/max", "equivariance/mean", "train/loss")):
            lines.append(f"| {key} | {metrics[key]:.4g} |")
    lines += ["", *[f"![{f}]({f})" for f in figures], ""]
    lines.append("Generated by `python scripts/report.py`; the machine: " + _machine() + ".")
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")


def _machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} CPU cores, torch {torch.__version__}"


def report(name: str, runs_dir: Path, do_run: bool) -> bool:
    """Run (optionally) and report one experiment; return whether its claim holds."""
    exp = EXPERIMENTS[name]
    run_dir = runs_dir / name
    out_dir = ROOT / "experiments" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    wall = run(name, run_dir) if do_run else None
    status = json.loads((run_dir / "status.json").read_text())
    if status["status"] != "completed":
        raise RuntimeError(f"{name}: the run in {run_dir} failed: {status.get('error')}")
    metrics = {k: v for k, v in status["metrics"].items() if v is not None and math.isfinite(v)}
    figures = ["loss.png"] if plot_loss(read_csv(run_dir), metrics, out_dir / "loss.png") else []
    if name in ("rect_to_square", "square_to_rect", "square_to_rect_broken"):
        figures += plot_shapes(run_dir, out_dir)
    write_readme(exp, metrics, wall, figures, out_dir)
    ok = exp.check(metrics)
    print(f"{name}: {'PASS' if ok else 'FAIL'} ({exp.claim}); report in {out_dir / 'README.md'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"experiments (default: all of {list(EXPERIMENTS)})")
    parser.add_argument("--no-run", action="store_true", help="only rewrite the reports from the last runs")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "outputs" / "report")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}")
    results = [report(name, args.runs_dir.resolve(), not args.no_run) for name in args.names or EXPERIMENTS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
