"""Side by side with NequIP 0.19: the same data, the same wall-clock budget, one framework after the other.

    python scripts/bench_nequip.py --budget-min 12 --lr-sweep 0.002,0.005,0.01 --sweep-budget-min 4

1. Data: NequIP's toy set (fcc Cu, orthorhombic cell x 4x4x4 = 128 atoms, rattle 0.1 A, EMT labels) written
   once by e3lab's generator (``e3lab.data.nequip_toy_cu``, 250 frames), split into train/val/test files of
   200/25/25 frames that both frameworks read (NequIP through its ``ASEDataModule``), 5 A cutoff.
2. Learning-rate sweep (each framework, each rate, ``--sweep-budget-min`` each), chosen by the lowest
   validation force MAE; then the final run of each framework at its best rate with ``--budget-min``
   (reused from the sweep when the budgets are equal). NequIP: its tutorial model (see
   ``bench_nequip_configs.py``); e3lab: ``experiment=emt_cu`` with the backbone ``--e3lab-model``.
3. MD speed on the first test structure (128 atoms, NVE, 1 fs) through each framework's ASE calculator:
   e3lab eager / torch.export / AOTInductor, NequIP eager / ``nequip-compile --mode aotinductor``.
4. ``--out`` (default ``experiments/nequip_comparison``): README (commands, versions, tables, goals),
   ``curves.png`` (validation force MAE against wall time), ``results.json``.

Runs are subprocesses with ``--threads`` threads each; the work folder (``--work``) keeps every log,
config, checkpoint and curve. NequIP runs from this interpreter when ``import nequip`` works (``pip install
-e .[bench]``), else from ``--nequip-python`` (default ``~/.cache/nequip-venv/bin/python``, as made by
``pip install torch==2.13.0 nequip==0.19.1`` in a venv); without either its side is skipped with a message.
``--dry-run`` writes the data and every config and prints the commands without training.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench_nequip_configs import E3LAB_MODELS, e3lab_overrides, nequip_config
from bench_nequip_report import write_report

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
SPLIT = {"train": 200, "val": 25, "test": 25}


def write_data(work: Path) -> dict[str, Any]:
    """NequIP's toy set from e3lab's generator, split into three extxyz files; the zero-force MAE (eV/A)."""
    import ase.io
    import numpy as np

    from e3lab.data import nequip_toy_cu

    source = Path(nequip_toy_cu(str(work / "nequip_toy_cu.extxyz"), n_frames=sum(SPLIT.values())))
    frames = ase.io.read(source, index=":")
    files, start = {}, 0
    for split, count in SPLIT.items():
        files[split] = str(work / f"{split}.extxyz")
        ase.io.write(files[split], frames[start : start + count], format="extxyz")
        start += count
    val_forces = np.concatenate([a.get_forces() for a in frames[200:225]])
    return {"files": files, "source": str(source), "zero_force_mae": float(np.abs(val_forces).mean())}


def nequip_python(requested: str | None) -> str | None:
    """The interpreter that has NequIP: ``requested``, this one, or the default separate venv; else None."""
    candidates = (
        [requested] if requested else [sys.executable, str(Path.home() / ".cache/nequip-venv/bin/python")]
    )
    for python in candidates:
        if python and Path(python).is_file():
            found = subprocess.run([python, "-c", "import nequip"], capture_output=True).returncode == 0
            if found:
                return python
    return None


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ, WANDB_MODE="offline", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH", "")]))
    return env


def _read_run(record: Path) -> dict[str, Any]:
    curve = []
    if (record / "curve.csv").is_file():
        with open(record / "curve.csv") as f:
            curve = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    steps, test = (
        json.loads(p.read_text()) if p.is_file() else {}
        for p in (record / "steps.json", record / "test.json")
    )
    steps.pop("step_times_s", None)
    return {"curve": curve, "steps": steps, "test": test}


def train(
    framework: str, lr: float, budget_s: float, args: argparse.Namespace, data: dict, tag: str
) -> dict[str, Any]:
    """One training run in a subprocess; returns its curve, step times, test metrics and best checkpoint."""
    run_dir = Path(args.work) / f"{framework}_{tag}"
    record = run_dir / "record"
    if framework == "nequip":
        config = nequip_config(data["files"], lr, budget_s, record)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        trainer = str(Path(args.nequip_python).parent / "nequip-train")
        command = [trainer, "-cp", str(run_dir), "-cn", "config.yaml", f"hydra.run.dir={run_dir / 'run'}"]
        best = run_dir / "run" / "best.ckpt"
    else:
        overrides = e3lab_overrides(
            data["files"], lr, budget_s, record, args.e3lab_model, threads=args.threads
        )
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            *overrides,
            f"hydra.run.dir={run_dir / 'run'}",
            "name=bench_nequip_e3lab",
        ]
        best = run_dir / "run" / "checkpoints" / "best.ckpt"
    print(
        f"[{datetime.datetime.now():%H:%M:%S}] {framework} lr={lr:g} budget {budget_s / 60:.1f} min:\n  "
        + " ".join(f"'{c}'" if " " in c else c for c in command),
        flush=True,
    )
    result = {
        "framework": framework,
        "lr": lr,
        "budget_s": budget_s,
        "command": command,
        "run_dir": str(run_dir),
    }
    if args.dry_run:
        return result
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(run_dir / "run.log", "w") as log:
        code = subprocess.run(
            command, cwd=ROOT, env=_env(args.threads), stdout=log, stderr=subprocess.STDOUT
        ).returncode
    result.update(
        _read_run(record),
        process_wall_s=time.perf_counter() - start,
        returncode=code,
        best_ckpt=str(best) if best.is_file() else None,
    )
    final = [p["val_forces_mae_ev_per_a"] for p in result["curve"]]
    print(
        f"  exit {code}; {len(final)} validations, best val force MAE "
        f"{min(final, default=float('nan')):.4f} eV/A; log {run_dir / 'run.log'}",
        flush=True,
    )
    return result


def best_val(result: dict[str, Any]) -> float:
    values = [p["val_forces_mae_ev_per_a"] for p in result.get("curve", [])]
    return min(values) if values else float("inf")


def md_speed(framework: str, model: str, form: str, args: argparse.Namespace, data: dict) -> dict[str, Any]:
    python = sys.executable if framework == "e3lab" else args.nequip_python
    command = [
        python,
        str(SCRIPTS / "bench_nequip_md.py"),
        "--framework",
        framework,
        "--model",
        model,
        "--form",
        form,
        "--structure",
        data["files"]["test"],
        "--steps",
        str(args.md_steps),
        "--threads",
        str(args.threads),
    ]
    print(f"[{datetime.datetime.now():%H:%M:%S}] MD speed: {framework} {form}", flush=True)
    if args.dry_run:
        return {"framework": framework, "form": form, "command": command}
    out = subprocess.run(command, cwd=ROOT, env=_env(args.threads), capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_MD "):
            result = json.loads(line.removeprefix("BENCH_MD "))
            print(f"  {json.dumps(result)}", flush=True)
            return result
    return {
        "framework": framework,
        "form": form,
        "error": f"exit {out.returncode}: {out.stderr.strip()[-600:]}",
    }


def nequip_compile(ckpt: str, args: argparse.Namespace) -> tuple[str | None, float, str | None]:
    """``nequip-compile --mode aotinductor --target ase``: (path or None, seconds, error)."""
    target = Path(ckpt).with_name("compiled.nequip.pt2")
    command = [
        str(Path(args.nequip_python).parent / "nequip-compile"),
        ckpt,
        str(target),
        "--mode",
        "aotinductor",
        "--device",
        "cpu",
        "--target",
        "ase",
    ]
    if args.dry_run:
        return None, 0.0, None
    start = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, env=_env(args.threads), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0 or not target.is_file():
        return None, seconds, f"nequip-compile failed (exit {out.returncode}): {out.stderr.strip()[-400:]}"
    return str(target), seconds, None


def run_framework(framework: str, args: argparse.Namespace, data: dict) -> dict[str, Any]:
    """The learning-rate sweep, then the final run at the best rate."""
    rates = [float(r) for r in (args.lr_sweep or args.lr).split(",")]
    budget, sweep_budget = 60 * args.budget_min, 60 * (args.sweep_budget_min or args.budget_min)
    sweep = []
    if len(rates) > 1:
        sweep = [train(framework, lr, sweep_budget, args, data, f"sweep_lr{lr:g}") for lr in rates]
        chosen = min(sweep, key=best_val)["lr"] if not args.dry_run else rates[0]
    else:
        chosen = rates[0]
    reusable = [r for r in sweep if r["lr"] == chosen and r["budget_s"] == budget]
    final = reusable[0] if reusable else train(framework, chosen, budget, args, data, f"final_lr{chosen:g}")
    return {"sweep": sweep, "final": final, "lr": chosen}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--budget-min", type=float, default=12.0, help="final wall-clock budget per framework")
    add("--lr-sweep", default=None, help="comma-separated learning rates swept for each framework")
    add("--sweep-budget-min", type=float, default=None, help="budget of each sweep run")
    add("--lr", default="0.002", help="the rate when there is no sweep")
    add("--e3lab-model", default="nequip_size", choices=sorted(E3LAB_MODELS))
    add("--frameworks", default="nequip,e3lab")
    add("--threads", type=int, default=2)
    add("--md-steps", type=int, default=100)
    add("--md-forms", default="eager,export,aoti", help="forms timed (NequIP: eager and aoti)")
    add("--no-md", action="store_true")
    add("--nequip-python", default=None)
    add("--out", default=str(ROOT / "experiments" / "nequip_comparison"))
    add("--work", default=None, help="default outputs/bench_nequip/<date>_<time>")
    add(
        "--md-from",
        default=None,
        help="an earlier results.json: reuse its data and trained checkpoints, time MD only",
    )
    add("--dry-run", action="store_true")
    return parser


def md_speeds(
    frameworks: list[str], runs: dict[str, Any], args: argparse.Namespace, data: dict
) -> list[dict]:
    """MD speed of each framework's final checkpoint in each form (NequIP's aoti compiled first)."""
    rows = []
    for framework in frameworks:
        ckpt = runs[framework]["final"].get("best_ckpt") or ("CKPT" if args.dry_run else None)
        if ckpt is None:
            rows.append({"framework": framework, "error": "no checkpoint (training failed?)"})
            continue
        for form in [f for f in args.md_forms.split(",") if framework == "e3lab" or f in ("eager", "aoti")]:
            model = ckpt
            if framework == "nequip" and form == "aoti":
                model, seconds, error = nequip_compile(ckpt, args)
                if model is None:
                    rows.append({"framework": framework, "form": form, "error": error or "dry run"})
                    continue
                rows.append({"framework": framework, "form": "compile", "setup_s": seconds})
            rows.append(md_speed(framework, model, form, args, data))
    return rows


def _trained_before(args: argparse.Namespace, frameworks: list[str]) -> dict[str, Any]:
    """The data and training runs of ``--md-from`` (an earlier ``results.json``), for timing MD again."""
    earlier = json.loads(Path(args.md_from).read_text())
    checkpoints = {f: (earlier["runs"].get(f, {}).get("final") or {}).get("best_ckpt") for f in frameworks}
    missing = [f for f, ckpt in checkpoints.items() if not ckpt]
    gone = [f for f, ckpt in checkpoints.items() if ckpt and not Path(ckpt).is_file()]
    if missing or gone:
        raise SystemExit(
            f"--md-from {args.md_from}: no best checkpoint recorded for {missing}, or its file is gone for "
            f"{gone}; rerun the training (without --md-from)"
        )
    runs = {f: earlier["runs"][f] for f in frameworks}
    return {"args": vars(args), "data": earlier["data"], "runs": runs, "md": [], "trained": earlier["args"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); return the results (also in ``--out/results.json``)."""
    args = _parser().parse_args(argv)
    stamp = f"{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"
    args.work = args.work or str(ROOT / "outputs" / "bench_nequip" / stamp)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    args.nequip_python = nequip_python(args.nequip_python) if "nequip" in frameworks else None
    if "nequip" in frameworks and args.nequip_python is None:
        print(
            "NequIP is not installed (pip install -e '.[bench]', or a venv at ~/.cache/nequip-venv with "
            "torch==2.13.0 nequip==0.19.1, or --nequip-python): its side is skipped",
            flush=True,
        )
        frameworks.remove("nequip")
    if args.md_from:
        results = _trained_before(args, frameworks)
    else:
        data = write_data(Path(args.work))
        print(f"data: {data['files']}; zero-force MAE {data['zero_force_mae']:.4f} eV/A", flush=True)
        results = {"args": vars(args), "data": data, "runs": {}, "md": []}
        for framework in frameworks:
            results["runs"][framework] = run_framework(framework, args, data)
    data = results["data"]
    if not args.no_md:
        results["md"] = md_speeds(frameworks, results["runs"], args, data)
    if args.dry_run:
        print(json.dumps(results, indent=1, default=str))
        return results
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    for framework, run in results["runs"].items():
        record = Path(run["final"]["run_dir"]) / "record" / "curve.csv"
        if record.is_file():
            shutil.copy(record, out / f"curve_{framework}.csv")
    command = " ".join(["bench_nequip.py", *(sys.argv[1:] if argv is None else argv)])
    write_report(results, out, command)
    print(f"written: {out / 'README.md'}")
    return results


if __name__ == "__main__":
    main()
