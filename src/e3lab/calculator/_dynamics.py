"""Molecular dynamics with any ASE calculator: NVE (velocity Verlet) or NVT (Langevin), watched for blow-ups.

:func:`run_md` integrates, records the energies of every step, writes an ASE trajectory, shows a progress
bar, and stops at the first broken state (:class:`StabilityGuard`), saving the last good frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import Trajectory, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary
from ase.md.verlet import VelocityVerlet

try:
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # ASE < 3.29 names it MaxwellBoltzmannDistribution
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta  # noqa: N813

from e3lab.calculator._md_guard import StabilityGuard

__all__ = ["ENSEMBLES", "MDResult", "MDSettings", "run_md"]

ENSEMBLES = ("nve", "nvt")


@dataclass
class MDSettings:
    """What to run. Times in fs, temperature in K, friction in 1/fs (Langevin only)."""

    ensemble: str = "nve"
    steps: int = 1000
    timestep_fs: float = 1.0
    temperature: float = 300.0
    friction_per_fs: float = 0.01
    seed: int = 0
    trajectory_every: int = 10
    min_distance: float = 0.5
    max_energy_jump: float = 0.05

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble={self.ensemble!r} is not one of {ENSEMBLES}")
        for name in ("steps", "trajectory_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        for name in ("timestep_fs", "friction_per_fs", "min_distance", "max_energy_jump"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be > 0")
        if not self.temperature >= 0:
            raise ValueError(f"temperature={self.temperature!r} must be >= 0 K")


@dataclass
class MDResult:
    """Energies (eV, whole structure) at time ``time_fs`` of each recorded state (step 0 included)."""

    time_fs: list[float] = field(default_factory=list)
    potential: list[float] = field(default_factory=list)
    kinetic: list[float] = field(default_factory=list)
    temperature: list[float] = field(default_factory=list)
    num_atoms: int = 0
    steps_done: int = 0
    wall_s: float = 0.0
    timestep_fs: float = 1.0
    blow_up: str | None = None
    last_good_frame: Path | None = None
    closest_pair: float = float("inf")

    @property
    def total(self) -> np.ndarray:
        return np.asarray(self.potential) + np.asarray(self.kinetic)

    @property
    def steps_per_s(self) -> float:
        return self.steps_done / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def ns_per_day(self) -> float:
        return self.steps_per_s * self.timestep_fs * 86400 * 1e-6

    def drift_mev_per_atom_ps(self) -> float:
        """Slope of a least-squares line through the total energy per atom (meV/atom/ps)."""
        if len(self.time_fs) < 2:
            return float("nan")
        slope = np.polyfit(np.asarray(self.time_fs) * 1e-3, self.total / self.num_atoms, 1)[0]
        return float(slope * 1e3)

    def max_deviation_mev_per_atom(self) -> float:
        """Largest ``|E_total(t) - E_total(0)|`` per atom (meV/atom)."""
        total = self.total / self.num_atoms
        return float(np.abs(total - total[0]).max() * 1e3) if total.size else float("nan")


def _integrator(atoms: Any, settings: MDSettings) -> Any:
    dt = settings.timestep_fs * units.fs
    if settings.ensemble == "nve":
        return VelocityVerlet(atoms, timestep=dt)
    return Langevin(
        atoms,
        timestep=dt,
        temperature_K=settings.temperature,
        friction=settings.friction_per_fs / units.fs,
        fixcm=False,
        rng=np.random.default_rng(settings.seed + 1),
    )


def _frozen_copy(atoms: Any) -> Any:
    """A copy of ``atoms`` carrying its current energy and forces as a single-point result."""
    frame = atoms.copy()
    results = getattr(atoms.calc, "results", {})
    kept = {key: results[key] for key in ("energy", "forces", "free_energy") if key in results}
    frame.calc = SinglePointCalculator(frame, **kept)
    return frame


def run_md(
    atoms: Any,
    settings: MDSettings,
    out_dir: str | Path,
    progress: bool = True,
    on_record: Callable[[int, MDResult], None] | None = None,
) -> MDResult:
    """Run MD on ``atoms`` (its calculator attached) and record every step.

    Velocities are drawn from a Maxwell-Boltzmann distribution at ``settings.temperature`` (seeded), the
    centre-of-mass motion removed. Writes ``out_dir/trajectory.traj`` (every ``trajectory_every`` steps) and,
    when the run blows up, ``out_dir/last_good.extxyz`` (the state before the failing step) and stops.
    ``on_record(step, result)`` is called after each recorded step.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = MDResult(num_atoms=len(atoms), timestep_fs=settings.timestep_fs)
    thermalize_momenta(atoms, temperature_K=settings.temperature, rng=np.random.default_rng(settings.seed))
    Stationary(atoms)
    guard = StabilityGuard(min_distance=settings.min_distance, max_energy_jump=settings.max_energy_jump)
    dynamics = _integrator(atoms, settings)
    last_good = None
    bar = _progress_bar(settings.steps, progress)
    start = time.perf_counter()
    with Trajectory(str(out_dir / "trajectory.traj"), "w") as trajectory, bar or nullcontext():
        task = bar.add_task("MD", total=settings.steps) if bar is not None else None
        steps = dynamics.irun(settings.steps)
        step = 0
        while True:
            try:
                next(steps)
                potential = atoms.get_potential_energy()
                forces = atoms.get_forces()
            except StopIteration:
                break
            except (ValueError, RuntimeError, FloatingPointError) as err:
                result.blow_up = f"at step {step}: the calculator failed: {type(err).__name__}: {err}"
                break
            kinetic = atoms.get_kinetic_energy()
            reason = guard.check(atoms, potential, kinetic, forces)
            if reason is not None:
                result.blow_up = f"at step {step} ({step * settings.timestep_fs:g} fs): {reason}"
                break
            last_good = _frozen_copy(atoms)
            result.closest_pair = min(result.closest_pair, guard.last_closest)
            result.time_fs.append(step * settings.timestep_fs)
            result.potential.append(float(potential))
            result.kinetic.append(float(kinetic))
            result.temperature.append(float(atoms.get_temperature()))
            result.steps_done = step
            if step % settings.trajectory_every == 0:
                trajectory.write(atoms)
            if on_record is not None:
                on_record(step, result)
            if bar is not None:
                bar.update(task, completed=step, description=f"MD  T={result.temperature[-1]:6.1f} K")
            step += 1
    result.wall_s = time.perf_counter() - start
    if result.blow_up is not None and last_good is not None:
        result.last_good_frame = out_dir / "last_good.extxyz"
        write(result.last_good_frame, last_good)
    return result


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
