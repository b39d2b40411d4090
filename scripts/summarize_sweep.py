"""Summarise a Hydra multirun: one row per job (its overrides, status, final metrics) and a plot.

    python scripts/summarize_sweep.py multirun/<name>/<time> [--metrics val/loss test/loss] [--plot out.png]

A job is read from ``<job>/.hydra/overrides.yaml`` and ``<job>/status.json`` (written by train.py); a job
without a status file, or whose status is "failed", is marked failed. The plot (default
``<multirun dir>/summary.png``) shows the monitored metric of each completed job.
"""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from matplotlib.figure import Figure


@dataclass
class Job:
    """One multirun job."""

    path: Path
    overrides: list[str]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    monitor: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return " ".join(self.overrides) or self.path.name


def read_job(path: Path) -> Job:
    """Read one job directory (one that has ``.hydra/overrides.yaml``)."""
    overrides = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
    config_file = path / ".hydra" / "config.yaml"
    monitor = None
    if config_file.is_file():
        monitor = (yaml.safe_load(config_file.read_text()) or {}).get("monitor")
    status_file = path / "status.json"
    if not status_file.is_file():
        return Job(path, overrides, "failed", monitor=monitor, error="no status.json (the job crashed)")
    status = json.loads(status_file.read_text())
    metrics = {k: float(v) for k, v in status.get("metrics", {}).items() if v is not None}
    return Job(path, overrides, status.get("status", "failed"), metrics, monitor, status.get("error"))


def read_sweep(sweep_dir: Path) -> list[Job]:
    """All jobs of a multirun directory, in job-number order."""
    if not sweep_dir.is_dir():
        raise FileNotFoundError(
            f"{sweep_dir} is not a directory; pass a multirun directory (multirun/<name>/<time>)"
        )
    jobs = [read_job(p.parent.parent) for p in sweep_dir.glob("*/.hydra/overrides.yaml")]
    if not jobs:
        raise ValueError(
            f"no jobs (*/.hydra/overrides.yaml) under {sweep_dir}; is it a Hydra multirun directory?"
        )
    return sorted(
        jobs, key=lambda j: (not j.path.name.isdigit(), int(j.path.name) if j.path.name.isdigit() else 0)
    )


def table(jobs: list[Job], metrics: list[str]) -> str:
    """Plain-text table: job, status, overrides, then one column per metric."""
    header = ["job", "status", "overrides", *metrics]
    _, varying = split_overrides(jobs)
    rows = [header]
    for job in jobs:
        values = [f"{job.metrics[m]:.6g}" if m in job.metrics else "-" for m in metrics]
        rows.append([job.path.name, job.status, varying[job.path], *values])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def split_overrides(jobs: list[Job]) -> tuple[list[str], dict[Path, str]]:
    """The overrides every job shares, and per job (by path) the ones that vary across the sweep."""
    common = [o for o in jobs[0].overrides if all(o in j.overrides for j in jobs)] if jobs else []
    varying = {j.path: " ".join(o for o in j.overrides if o not in common) or "-" for j in jobs}
    return common, varying


def plot(jobs: list[Job], metric: str, path: Path) -> None:
    """Horizontal bars of ``metric`` per job, labelled by the overrides that vary (the shared ones in the
    title); failed jobs are drawn as red crosses at zero."""
    common, varying = split_overrides(jobs)
    fig = Figure(figsize=(7, 0.4 * len(jobs) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    for i, job in enumerate(jobs):
        value = job.metrics.get(metric, math.nan)
        if job.status == "completed" and math.isfinite(value):
            ax.barh(i, value, color="tab:blue")
        else:
            ax.plot(0, i, "x", color="tab:red", markersize=12)
    ax.set_yticks(range(len(jobs)), [f"{job.path.name}: {varying[job.path]}" for job in jobs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    title = f"{metric} per job (red x: failed)"
    if common:
        title += "\n" + textwrap.shorten(" ".join(common), 75, placeholder=" ...")
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweep_dir", type=Path, help="multirun directory (multirun/<name>/<time>)")
    parser.add_argument("--metrics", nargs="*", help="metrics to tabulate (default: monitor + test metrics)")
    parser.add_argument(
        "--plot", type=Path, help="where to write the plot (default: <sweep_dir>/summary.png)"
    )
    args = parser.parse_args(argv)

    jobs = read_sweep(args.sweep_dir)
    monitor = next((j.monitor for j in jobs if j.monitor), None)
    metrics = args.metrics
    if not metrics:
        names = sorted({m for j in jobs for m in j.metrics if m.startswith("test/")})
        metrics = ([monitor] if monitor else []) + [m for m in names if m != monitor]
    common, _ = split_overrides(jobs)
    if common:
        print("overrides of every job: " + " ".join(common))
    print(table(jobs, metrics))
    for job in jobs:
        if job.status != "completed":
            print(f"job {job.path.name} failed: {job.error}")
    if metrics:
        out = args.plot or args.sweep_dir / "summary.png"
        plot(jobs, metrics[0], out)
        print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
