"""Hydra main for molecular dynamics: ``python md.py ckpt_path=outputs/<name>/<time>/checkpoints/last.ckpt``.

Runs NVE (velocity Verlet) or NVT (Langevin) with a trained potential
(:class:`e3lab.calculator.E3labCalculator`) on a structure of the training run's test split
(``structure=test``, the data config read from the run's ``.hydra/config.yaml``) or of a file
(``structure=path/to/file.xyz``). Writes to the run folder ``md/trajectory.traj``, ``md/energy.csv``,
``md/energy.png`` (with the frames' EMT energy when EMT is the reference), ``md/summary.json`` and
``status.json``; logs the same to W&B (offline by default); prints steps/s and ns/day. A run that blows up
stops, saves ``md/last_good.extxyz`` and exits with an error saying what broke.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from e3lab._run import (
    finish_wandb,
    register_resolvers,
    require_file,
    resolved_config,
    set_num_threads,
    write_status,
)
from e3lab.calculator import (
    E3labCalculator,
    MDResult,
    MDSettings,
    plot_md_energies,
    read_structure,
    run_md,
    write_md_report,
)

log = logging.getLogger("e3lab.md")
register_resolvers()

_DTYPES = {None: None, "float32": torch.float32, "float64": torch.float64}
# ASE's EMT is parametrised for these elements
_EMT_ELEMENTS = {"H", "C", "N", "O", "Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"}
# data configs whose file_path is made by one of these e3lab.data functions carry EMT labels
_EMT_GENERATORS = ("generate_emt", "nequip_toy_cu")


class MDBlowUpError(RuntimeError):
    """The dynamics became unphysical; the message says when, why, and where the last good frame is."""


def _run_config(ckpt: Path) -> DictConfig | None:
    path = ckpt.resolve().parent.parent / ".hydra" / "config.yaml"
    loaded = OmegaConf.load(path) if path.is_file() else None
    return loaded if isinstance(loaded, DictConfig) else None


def _structure(cfg: DictConfig, ckpt: Path) -> tuple[Any, DictConfig | None]:
    """The starting structure and the training run's config (None when it is not beside the checkpoint)."""
    saved = _run_config(ckpt)
    if str(cfg.structure) != "test":
        atoms = read_structure(cfg.structure, int(cfg.structure_index))
    else:
        if saved is None or "data" not in saved:
            raise FileNotFoundError(
                "structure=test reads the training run's data config, but "
                f"{ckpt.resolve().parent.parent}/.hydra/"
                "config.yaml does not exist; give a structure file instead: structure=path/to/structure.xyz"
            )
        datamodule = instantiate(saved.data)
        frames = datamodule.structures("test")
        size = cfg.get("structure_num_atoms")
        if size is not None:
            frames = [atoms for atoms in frames if len(atoms) == int(size)]
        index = int(cfg.structure_index)
        if not -len(frames) <= index < len(frames):
            which = f" of {size} atoms" if size is not None else ""
            raise ValueError(
                f"structure_index={index} is out of range: the test split has {len(frames)} frames{which}"
            )
        atoms = frames[index].copy()
        atoms.calc = None
    if cfg.repeat is not None:
        atoms = atoms.repeat(tuple(int(r) for r in cfg.repeat))
    return atoms, saved


def _reference(choice: str | None, atoms: Any, saved: DictConfig | None) -> Any:
    """The reference calculator (EMT) or None; ``auto``: EMT when the run's data is EMT-generated."""
    if choice is None:
        return None
    if choice not in ("auto", "emt"):
        raise ValueError(f"reference={choice!r} must be auto, emt or null")
    if choice == "auto":
        source = saved.data.get("file_path") if saved is not None and "data" in saved else None
        target = str(source.get("_target_", "")) if isinstance(source, DictConfig) else ""
        if target.rpartition(".")[2] not in _EMT_GENERATORS:
            return None
    missing = sorted(set(atoms.get_chemical_symbols()) - _EMT_ELEMENTS)
    if missing:
        if choice == "emt":
            raise ValueError(f"reference=emt: ASE's EMT has no parameters for {missing}; set reference=null")
        return None
    from ase.calculators.emt import EMT

    return EMT()


def _reference_energies(
    trajectory: Path, calc: Any, timestep_fs: float, every: int
) -> tuple[np.ndarray, np.ndarray]:
    from ase.io import Trajectory

    times, energies = [], []
    with Trajectory(str(trajectory)) as frames:
        for k, frame in enumerate(frames):
            frame.calc = calc
            times.append(k * every * timestep_fs)
            energies.append(frame.get_potential_energy())
    return np.asarray(times), np.asarray(energies)


def _write_csv(path: Path, result: MDResult) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time_fs", "potential_ev", "kinetic_ev", "total_ev", "temperature_k"])
        for row in zip(
            result.time_fs, result.potential, result.kinetic, result.total, result.temperature, strict=True
        ):
            writer.writerow([f"{v:.10g}" for v in row])


def _summary(result: MDResult, cfg: DictConfig, ckpt: Path, calc: E3labCalculator) -> dict[str, Any]:
    return {
        "checkpoint": str(ckpt),
        "ensemble": cfg.ensemble,
        "num_atoms": result.num_atoms,
        "timestep_fs": result.timestep_fs,
        "steps": result.steps_done,
        "simulated_ps": result.steps_done * result.timestep_fs * 1e-3,
        "wall_s": result.wall_s,
        "steps_per_s": result.steps_per_s,
        "ns_per_day": result.ns_per_day,
        "drift_mev_per_atom_ps": result.drift_mev_per_atom_ps(),
        "max_total_energy_deviation_mev_per_atom": result.max_deviation_mev_per_atom(),
        "closest_pair_a": result.closest_pair,
        "neighbour_list_builds": calc.neighbors.builds,
        "mean_temperature_k": float(np.mean(result.temperature)) if result.temperature else float("nan"),
        "blow_up": result.blow_up,
        "last_good_frame": str(result.last_good_frame) if result.last_good_frame else None,
    }


def _log_wandb(cfg: DictConfig, result: MDResult, summary: dict[str, Any], plot: Path) -> None:
    try:
        import wandb

        run = wandb.init(
            project=cfg.project,
            group=cfg.name,
            job_type="md",
            tags=list(cfg.tags),
            dir=cfg.paths.output_dir,
            mode=cfg.wandb.mode,
            config=resolved_config(cfg),
        )
        n = max(result.num_atoms, 1)
        stride = max(1, len(result.time_fs) // 500)
        for k in range(0, len(result.time_fs), stride):
            run.log(
                {
                    "md/time_fs": result.time_fs[k],
                    "md/potential_ev_per_atom": result.potential[k] / n,
                    "md/kinetic_ev_per_atom": result.kinetic[k] / n,
                    "md/total_ev_per_atom": result.total[k] / n,
                    "md/temperature_k": result.temperature[k],
                }
            )
        run.log({"md/energy": wandb.Image(str(plot))})
        run.summary.update({f"md/{k}": v for k, v in summary.items() if isinstance(v, (int, float))})
    except Exception as err:  # the local files are complete; W&B is a copy
        log.warning("W&B logging failed (%r); the run folder has every result", err)
    finally:
        finish_wandb(exit_code=1 if result.blow_up else 0)


def _command() -> str:
    """``python md.py`` with this run's command-line overrides."""
    from hydra.core.hydra_config import HydraConfig

    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    return " ".join(["python md.py", *overrides])


def simulate(cfg: DictConfig) -> dict[str, Any]:
    """Run the MD of ``cfg``; return its summary. A blow-up raises :class:`MDBlowUpError`, after saving."""
    set_num_threads(cfg.get("num_threads"))
    ckpt = require_file(cfg.ckpt_path)
    if cfg.dtype not in _DTYPES:
        raise ValueError(f"dtype={cfg.dtype!r} must be float32, float64 or null (the model's)")
    calc = E3labCalculator.from_checkpoint(
        ckpt, device=cfg.device, dtype=_DTYPES[cfg.dtype], skin=cfg.skin, form=cfg.form
    )
    atoms, saved = _structure(cfg, ckpt)
    reference = _reference(cfg.reference, atoms, saved)
    atoms.calc = calc
    settings = MDSettings(
        ensemble=cfg.ensemble,
        steps=int(cfg.steps),
        timestep_fs=float(cfg.timestep_fs),
        temperature=float(cfg.temperature),
        friction_per_fs=float(cfg.friction_per_fs),
        seed=int(cfg.seed),
        trajectory_every=int(cfg.trajectory_every),
        min_distance=float(cfg.min_distance),
        max_energy_jump=float(cfg.max_energy_jump),
    )
    out = Path(cfg.paths.output_dir) / "md"
    log.info(
        "MD: %s, %d atoms (%s), %d steps of %g fs",
        cfg.ensemble,
        len(atoms),
        atoms.get_chemical_formula(),
        settings.steps,
        settings.timestep_fs,
    )
    result = run_md(atoms, settings, out, progress=bool(cfg.progress))
    _write_csv(out / "energy.csv", result)
    ref = None
    if reference is not None and (out / "trajectory.traj").is_file():
        ref = _reference_energies(
            out / "trajectory.traj", reference, settings.timestep_fs, settings.trajectory_every
        )
        ref = (ref[0][: len(result.time_fs)], ref[1][: len(result.time_fs)])
    plot = plot_md_energies(result, out / "energy.png", reference=ref)
    summary = _summary(result, cfg, ckpt, calc)
    if ref is not None and len(ref[1]):
        model_at_frames = np.asarray(result.potential)[(ref[0] / settings.timestep_fs).round().astype(int)]
        summary["reference_potential_mae_mev_per_atom"] = float(
            np.abs(model_at_frames - ref[1]).mean() / len(atoms) * 1e3
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    _log_wandb(cfg, result, summary, plot)
    if cfg.get("report_dir"):
        report = write_md_report(summary, plot, cfg.report_dir, _command())
        print(f"report: {report}")
    print(
        f"MD: {result.steps_done} steps in {result.wall_s:.1f} s: {result.steps_per_s:.2f} steps/s, "
        f"{result.ns_per_day:.4f} ns/day at {settings.timestep_fs:g} fs; total-energy drift "
        f"{summary['drift_mev_per_atom_ps']:+.4f} meV/atom/ps; closest pair {result.closest_pair:.3f} A\n"
        f"outputs: {out.resolve()}"
    )
    metrics = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if result.blow_up is not None:
        saved = (
            f"last good frame saved to {result.last_good_frame}"
            if result.last_good_frame is not None
            else "no good frame to save (the starting structure is already broken)"
        )
        message = f"MD blew up {result.blow_up}; stopped; {saved}"
        write_status(
            cfg.paths.output_dir,
            "blown_up",
            metrics,
            reason=result.blow_up,
            last_good_frame=result.last_good_frame,
        )
        raise MDBlowUpError(message)
    write_status(cfg.paths.output_dir, "completed", metrics)
    return summary


@hydra.main(version_base="1.3", config_path="conf", config_name="md")
def main(cfg: DictConfig) -> dict[str, Any]:
    """Console entry point (``e3lab-md``)."""
    return simulate(cfg)


if __name__ == "__main__":
    main()
