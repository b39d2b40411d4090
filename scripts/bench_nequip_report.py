"""README and figure of ``scripts/bench_nequip.py``: versions, tables, force MAE against time, goals."""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def _version(package: str, python: str | None = None) -> str:
    if python:
        code = f"import importlib.metadata as m; print(m.version('{package}'))"
        out = subprocess.run([python, "-c", code], capture_output=True, text=True)
        return out.stdout.strip() or "?"
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {system}, e3lab commit {commit or '?'}"


def _test_mae(test: dict[str, float], framework: str) -> tuple[float, float]:
    """(force MAE eV/A, energy MAE meV/atom) from a run's test metrics."""
    if framework == "nequip":
        return test.get("test0_epoch/forces_mae", math.nan), 1e3 * test.get(
            "test0_epoch/per_atom_energy_mae", math.nan
        )
    return 1e-3 * test.get("test/forces_mae_mev_per_a", math.nan), test.get(
        "test/energy_mae_mev_per_atom", math.nan
    )


def _time_to_reach(curve: list[dict[str, float]], target: float) -> float:
    """Wall seconds of the first validation at or below ``target`` (eV/A); NaN if never."""
    return next((p["wall_s"] for p in curve if p["val_forces_mae_ev_per_a"] <= target), math.nan)


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {"nequip": "tab:blue", "e3lab": "tab:red"}
    for framework, run in results["runs"].items():
        curve = run["final"].get("curve", [])
        if curve:
            ax.plot(
                [p["wall_s"] / 60 for p in curve],
                [1e3 * p["val_forces_mae_ev_per_a"] for p in curve],
                "o-",
                ms=3,
                color=colors.get(framework),
                label=f"{framework} (lr {run['lr']:g})",
            )
    ax.axhline(1e3 * results["data"]["zero_force_mae"], color="gray", ls=":", label="zero-force MAE")
    ax.set_yscale("log")
    ax.set_xlabel("wall time (min, training + validation)")
    ax.set_ylabel("validation force MAE (meV/A)")
    ax.set_title("NequIP toy set (Cu 128 atoms, EMT), same budget and cores")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _goals(rows: dict[str, dict[str, float]], md: list[dict[str, Any]]) -> list[str]:
    lines = []
    if "nequip" in rows and "e3lab" in rows:
        n, e = rows["nequip"], rows["e3lab"]
        ratio = e["reach_s"] / n["train_s"] if n["train_s"] else math.nan
        lines.append(
            f"- e3lab reaches NequIP's final test force MAE ({1e3 * n['force']:.1f} meV/A) after "
            f"{e['reach_s'] / 60:.1f} min, {ratio:.2f}x NequIP's {n['train_s'] / 60:.1f} min "
            f"(goal <= 0.33x): {'met' if ratio <= 1 / 3 else 'not met'}"
        )
        lines.append(
            f"- at equal wall time, test force MAE e3lab {1e3 * e['force']:.1f} vs NequIP "
            f"{1e3 * n['force']:.1f} meV/A: {'met' if e['force'] < n['force'] else 'not met'}"
        )
    best = {}
    for row in md:
        if "steps_per_s" in row:
            best[row["framework"]] = max(best.get(row["framework"], 0.0), row["steps_per_s"])
    if "nequip" in best and "e3lab" in best:
        ratio = best["e3lab"] / best["nequip"]
        lines.append(
            f"- MD steps/s, fastest form of each: e3lab {best['e3lab']:.2f} vs NequIP {best['nequip']:.2f} "
            f"= {ratio:.2f}x (goal >= 3x): {'met' if ratio >= 3 else 'not met'}"
        )
    return lines


def _trained_line(results: dict[str, Any]) -> list[str]:
    """With ``--md-from``: where the training runs (curves, test metrics, checkpoints) come from."""
    trained = results.get("trained")
    if not trained:
        return []
    return [
        f"Training and test: the earlier runs of `{results['args']['md_from']}` (work folder "
        f"`{trained['work']}`, budget {trained['budget_min']:g} min, lr sweep {trained['lr_sweep']}, "
        f"e3lab backbone {trained['e3lab_model']}); MD timed again by this command.",
    ]


def write_report(results: dict[str, Any], out: Path, command: str) -> Path:
    """Write ``out/README.md`` and ``out/curves.png`` from the benchmark's ``results``."""
    _plot(results, out / "curves.png")
    args = results["args"]
    nequip_python = args.get("nequip_python")
    rows: dict[str, dict[str, float]] = {}
    lines = [
        "# e3lab vs NequIP 0.19 on NequIP's toy set",
        "",
        f"Generated by `scripts/bench_nequip.py` on {datetime.date.today()}. Command:",
        "",
        f"    python scripts/{command}",
        "",
        f"Machine: {_machine()}; {args['threads']} threads per run, one run at a time.",
        *_trained_line(results),
        f"Versions: torch {_version('torch')}, lightning {_version('lightning')}, ase {_version('ase')}, "
        f"nequip {_version('nequip', nequip_python) if nequip_python else 'not run'}.",
        "",
        "Data: NequIP's toy set written once by `e3lab.data.nequip_toy_cu` (fcc Cu, orthorhombic cell "
        "4x4x4 = 128 atoms, Gaussian rattle 0.1 A, seed 1, EMT energy/forces/stress), split in files of "
        "200/25/25 frames read by both (NequIP through `ASEDataModule`), 5 A cutoff, batch 5, float32, "
        "EMA 0.999, Adam, ReduceLROnPlateau, "
        "validation after every epoch (40 steps), test on the best validation checkpoint. Zero-force "
        f"validation MAE: {1e3 * results['data']['zero_force_mae']:.0f} meV/A.",
        "NequIP: tutorial model (NequIPGNNModel, 4 layers, l_max 1, 32 features, radial MLP 2x64, 8 Bessels, "
        "p=6). "
        f"e3lab: `experiment=emt_cu`, backbone `{results.get('trained', args)['e3lab_model']}`.",
        "",
        "![validation force MAE against wall time](curves.png)",
        "",
        "## Final runs (same wall-clock budget)",
        "",
        "| framework | lr | params | steps | median step (ms) | test force MAE (meV/A) "
        "| test energy MAE (meV/atom) "
        "| time to NequIP's final MAE (min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    nequip_force = math.nan
    if "nequip" in results["runs"]:
        nequip_force = _test_mae(results["runs"]["nequip"]["final"].get("test", {}), "nequip")[0]
    for framework, run in results["runs"].items():
        final = run["final"]
        force, energy = _test_mae(final.get("test", {}), framework)
        steps = final.get("steps", {})
        reach = _time_to_reach(final.get("curve", []), nequip_force)
        rows[framework] = {
            "force": force,
            "energy": energy,
            "reach_s": reach,
            "train_s": steps.get("train_wall_s", math.nan),
        }
        lines.append(
            f"| {framework} | {run['lr']:g} | {steps.get('trainable_parameters', '?')} | "
            f"{steps.get('steps', '?')} | {1e3 * steps.get('median_step_s', math.nan):.0f} | "
            f"{1e3 * force:.1f} | {energy:.2f} | {reach / 60:.1f} |"
        )
    sweeps = [(f, r) for f, run in results["runs"].items() for r in run["sweep"]]
    if sweeps:
        lines += [
            "",
            "## Learning-rate sweep (best validation force MAE)",
            "",
            "| framework | lr | budget (min) | best val force MAE (meV/A) | validations |",
            "|---|---|---|---|---|",
        ]
        for framework, r in sweeps:
            values = [p["val_forces_mae_ev_per_a"] for p in r.get("curve", [])]
            lines.append(
                f"| {framework} | {r['lr']:g} | {r['budget_s'] / 60:.1f} | "
                f"{1e3 * min(values, default=math.nan):.1f} | {len(values)} |"
            )
    lines += [
        "",
        "## MD speed (128 atoms, NVE velocity Verlet, 1 fs, through ASE)",
        "",
        "| framework | form | ms/step | steps/s | ns/day | set-up (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["md"]:
        if "error" in row:
            error = row["error"].replace("|", "/").replace("\n", " ")[:300]
            lines.append(f"| {row['framework']} | {row.get('form', '')} | failed: {error} | | | |")
        elif row.get("form") == "compile":
            lines.append(
                f"| {row['framework']} | nequip-compile (aotinductor) | | | | {row['setup_s']:.1f} |"
            )
        else:
            lines.append(
                f"| {row['framework']} | {row['form']} | {row['ms_per_step']:.1f} | {row['steps_per_s']:.2f} "
                f"| {row['ns_per_day']:.4f} | {row['setup_s']:.1f} |"
            )
    lines += ["", "## Goals", "", *_goals(rows, results["md"]), ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
