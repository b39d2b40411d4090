"""Run the experiments and write ``experiments/<name>/README.md`` with the results and figures.

    python scripts/report.py                      # run every experiment, then write the reports
    python scripts/report.py tetris --no-run      # rewrite a report from the last run
    python scripts/report.py square_to_rect --repeat 3   # the median wall time of 3 runs

Each experiment runs as ``python train.py experiment=<name> hydra.run.dir=outputs/report/<name>`` (wall time
measured, from a fresh run directory); the report reads the run's ``status.json``, CSV metrics and last
checkpoint, checks the experiment's claim and writes ``experiments/<name>/``: ``README.md`` (the command,
what it demonstrates, a results table, the figures), ``results.json`` and the PNGs (loss curve, timing bar
chart and, for the shape tasks, the arrow plot and each node's signals). ``experiments/README.md`` indexes
every ``experiments/*/results.json`` with the wall time of each command.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from _report_experiments import EXPERIMENTS, Experiment, Metrics  # scripts/ is on sys.path
from _report_figures import copy_timing, plot_loss, plot_shapes
from _report_potential import CAPTIONS as POTENTIAL_CAPTIONS
from _report_potential import KEY_METRICS as POTENTIAL_KEYS
from _report_potential import TABLE_PREFIXES as POTENTIAL_PREFIXES
from _report_potential import potential_figures, time_per_step

ROOT = Path(__file__).resolve().parent.parent


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


def derived(metrics: Metrics) -> dict[str, float]:
    """Ratios the claims are stated in: the test loss over the all-zero output's loss and over the floor."""
    out = {}
    if "test/loss" in metrics and metrics.get("symmetry/zero_output_loss", 0) > 0:
        out["test/loss / all-zero output's loss"] = (
            metrics["test/loss"] / metrics["symmetry/zero_output_loss"]
        )
    if "test/loss" in metrics and metrics.get("symmetry/loss_floor", 0) > 1e-12:
        out["test/loss / symmetry floor"] = metrics["test/loss"] / metrics["symmetry/loss_floor"]
    return out


def write_readme(exp: Experiment, result: dict, figures: list[str], out_dir: Path) -> None:
    """``experiments/<name>/README.md`` from ``result`` (see :func:`report`)."""
    metrics, wall = result["metrics"], result["wall_s"]
    lines = [
        f"# {exp.name}",
        "",
        exp.demonstrates,
        "",
        "```bash",
        result["command"],
        "```",
        "",
        f"**Claim:** {exp.claim}. **Result: {'PASS' if result['pass'] else 'FAIL'}.**",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    if wall is not None:
        lines.append(f"| wall time of the command | {_wall_text(result)} |")
    for key, value in derived(metrics).items():
        lines.append(f"| {key} | {value:.4g} |")
    for key, value in result.get("time_per_step", {}).items():
        lines.append(f"| {key} | {value:.4g} |")
    prefixes = ("test/", "symmetry/", "equivariance/max", "equivariance/mean", "train/loss")
    for key in sorted(metrics):
        if key.startswith(prefixes + (POTENTIAL_PREFIXES if exp.potential else ())):
            lines.append(f"| {key} | {metrics[key]:.4g} |")
    captions = {
        "loss.png": "Training loss per logged step, with the symmetry floor (when above 0) and the loss "
        "of an all-zero output.",
        "task.png": "Start (blue) and target (orange) shapes, target displacements (black), and an arrow "
        "from each node to every peak of its predicted signal (red).",
        "signals.png": "Each node's target signal (top) and predicted signal (bottom), positive part.",
        "timing.png": "Forward and backward milliseconds per stage of one profiled training step.",
        **(POTENTIAL_CAPTIONS if exp.potential else {}),
    }
    if result.get("symmetry_report"):
        lines += [
            "",
            "The symmetry analysis the run logged at its start (also printed by "
            f"`python -m e3lab.symmetry experiment={exp.name}`, with the `train.py` overrides that add the "
            "proposed input):",
            "",
            "```text",
            result["symmetry_report"].rstrip(),
            "```",
        ]
    for figure in figures:
        lines += ["", captions[figure], "", f"![{figure}]({figure})"]
    lines += ["", f"Generated by `python scripts/report.py {exp.name}` on {result['machine']}."]
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")


# folders of experiments/ written by the benchmark scripts, listed at the end of the index
BENCHMARKS = {
    "benchmarks": "`scripts/bench.py`: e3lab's kernels against e3nn (eager and compiled) and cuEquivariance, "
    "CPU and GPU, rounds 1-6 (round 6: force fields)",
    "nequip_comparison": "`scripts/bench_nequip.py`: time-to-accuracy and MD speed against NequIP 0.19 on "
    "its toy Cu set",
}


def write_index(experiments_dir: Path) -> None:
    """``experiments/README.md``: one row per reported experiment and the wall time of each command."""
    files = [p for p in sorted(experiments_dir.glob("*/results.json")) if p.parent.name not in BENCHMARKS]
    results = [json.loads(p.read_text()) for p in files]
    order = list(EXPERIMENTS)
    results.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    lines = [
        "# Experiments",
        "",
        "Generated by `python scripts/report.py` (runs each command below, then writes each experiment's "
        "README from the run's `status.json`, CSV metrics and checkpoint).",
        "",
        "| experiment | claim | result | key numbers | wall time (s) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        m = r["metrics"]
        keys = [
            k
            for k in (
                "test/loss",
                "symmetry/loss_floor",
                "test/displacement_error",
                "test/acc",
                "test/r2",
                *POTENTIAL_KEYS,
            )
            if k in m
        ]
        numbers = ", ".join(
            [f"{k} {m[k]:.4g}" for k in keys] + [f"{k} {v:.3g}" for k, v in derived(m).items()]
        )
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.1f}"
        verdict = "PASS" if r["pass"] else "FAIL"
        lines.append(
            f"| [{r['name']}]({r['name']}/README.md) | {r['claim']} | {verdict} | {numbers} | {wall} |"
        )
    lines += [
        "",
        "## Wall time",
        "",
        "Measured with `scripts/report.py` (`--repeat N` for a median). The two cores may be shared with "
        "other jobs: when another process is busy, torch's two OpenMP threads wait at barriers and the same "
        "run can take 2-3x longer, so the 1-minute load average before each run is recorded with it.",
        "",
    ]
    for r in results:
        if r["wall_s"] is not None:
            lines.append(
                f"- `{r['command']}`: {_wall_text(r)} on {r['machine']}: Python start-up, imports, "
                "W&B (offline), training, validation and test."
            )
    lines += ["", "## Benchmarks (their own scripts, not run by this one)", ""]
    lines += [f"- [{folder}/]({folder}/README.md): {what}" for folder, what in BENCHMARKS.items()]
    (experiments_dir / "README.md").write_text("\n".join(lines) + "\n")


def _wall_text(result: dict) -> str:
    """``"12.3 s"``, the runs it is the median of, and the highest 1-minute load average before a run."""
    text = f"{result['wall_s']:.1f} s"
    walls = result.get("walls_s") or []
    if len(walls) > 1:
        text += f" (median of {len(walls)} runs: " + ", ".join(f"{w:.1f}" for w in walls) + ")"
    if result.get("load") is not None:
        text += f", load average before the run(s) <= {result['load']:.1f}"
    return text


def _machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} CPU cores, torch {torch.__version__}"


def report(name: str, runs_dir: Path, do_run: bool, experiments_dir: Path, repeat: int = 1) -> bool:
    """Run (optionally) and report one experiment; return whether its claim holds.

    Writes ``experiments/<name>/{README.md,results.json}`` and the figures. The command runs ``repeat``
    times (the report uses the last run; the wall time is the median); the wall times are kept in
    ``<run dir>/wall_time.json`` so that ``--no-run`` reports them again.
    """
    exp = EXPERIMENTS[name]
    run_dir = runs_dir / name
    out_dir = experiments_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    wall_file = run_dir / "wall_time.json"
    if do_run:
        walls, loads = [], []
        for _ in range(repeat):
            shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run directory: no stale checkpoints or rows
            loads.append(os.getloadavg()[0])
            walls.append(run(name, run_dir))
        timing = {"wall_s": statistics.median(walls), "walls_s": walls, "load": max(loads)}
        wall_file.write_text(json.dumps(timing))
    timing = json.loads(wall_file.read_text()) if wall_file.is_file() else {"wall_s": None, "load": None}
    status = json.loads((run_dir / "status.json").read_text())
    if status["status"] != "completed":
        raise RuntimeError(f"{name}: the run in {run_dir} failed: {status.get('error')}")
    metrics = {k: v for k, v in status["metrics"].items() if v is not None and math.isfinite(v)}
    ok = exp.check(metrics)
    result = {
        "name": name,
        "command": f"python train.py experiment={name}",
        "claim": exp.claim,
        "pass": ok,
        **timing,
        "machine": _machine(),
        "metrics": metrics,
    }
    symmetry_report = run_dir / "symmetry_report.txt"  # written by the symmetry-report callback
    if symmetry_report.is_file():
        result["symmetry_report"] = symmetry_report.read_text()
    rows = read_csv(run_dir)
    figures = ["loss.png"] if plot_loss(rows, metrics, out_dir / "loss.png") else []
    if name in ("rect_to_square", "square_to_rect", "square_to_rect_broken"):
        figures += plot_shapes(run_dir, out_dir)
    if exp.potential:
        result["time_per_step"] = time_per_step(rows)
        figures += potential_figures(run_dir, rows, out_dir)
    figures += copy_timing(run_dir, out_dir)
    (out_dir / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    write_readme(exp, result, figures, out_dir)
    print(f"{name}: {'PASS' if ok else 'FAIL'} ({exp.claim}); report in {out_dir / 'README.md'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"experiments (default: all of {list(EXPERIMENTS)})")
    parser.add_argument("--no-run", action="store_true", help="only rewrite the reports from the last runs")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "outputs" / "report")
    parser.add_argument("--repeat", type=int, default=1, help="runs per experiment (median wall time)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "experiments", help="where the reports go")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}")
    out = args.out_dir.resolve()
    results = []
    for name in args.names or EXPERIMENTS:
        try:
            results.append(report(name, args.runs_dir.resolve(), not args.no_run, out, args.repeat))
        except (subprocess.CalledProcessError, RuntimeError, FileNotFoundError) as error:
            print(f"{name}: no report ({error})", file=sys.stderr)
            results.append(False)
    write_index(out)
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
