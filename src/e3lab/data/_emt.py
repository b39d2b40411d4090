"""Data sets that need no internet: structures of fcc metals labelled by ASE's EMT calculator.

:func:`generate_emt` builds rattled and strained bulk supercells, frames of short Langevin MD at several
temperatures, supercells with vacancies and, optionally, surface slabs (vacuum along z, pbc
``(True, True, False)``) and random binary alloys, labels them with EMT (energy, forces, and stress where
the cell is periodic in 3D) and writes them to one extxyz file, once: the file lives in a cache folder
under a name hashed from every parameter (and ASE's version), and is written atomically. The same seed
gives the same file. :func:`nequip_toy_cu` writes NequIP's toy set (the reference of the NequIP
comparison). Elements: Al, Cu, Ag, Au, Ni, Pd, Pt (the metals EMT is parametrised for).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from e3lab.data._atomic_write import atomic_write
from e3lab.data._atoms_cache import cache_key, default_cache_dir

__all__ = ["EMT_ELEMENTS", "generate_emt", "nequip_toy_cu"]

log = logging.getLogger(__name__)

EMT_ELEMENTS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")
# bump when the generator's output for given parameters changes
_GENERATOR_VERSION = 1


def _write_extxyz(path: Path, frames: list[Any]) -> None:
    import ase.io

    text = io.StringIO()
    ase.io.write(text, frames, format="extxyz")
    data = text.getvalue().encode()
    atomic_write(path, lambda f: f.write(data))


def _labelled(atoms: Any, config_type: str) -> Any:
    """A copy of ``atoms`` carrying EMT's energy, forces and (3D-periodic cells) stress."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = atoms.copy()
    atoms.arrays.pop("momenta", None)
    atoms.calc = EMT()
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    if atoms.pbc.all():
        results["stress"] = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info["config_type"] = config_type
    return atoms


def _lattice_constant(symbols: Sequence[str]) -> float:
    """Vegard's law: the composition-weighted mean of the elements' fcc lattice constants (A)."""
    from ase.data import atomic_numbers, reference_states

    return float(np.mean([reference_states[atomic_numbers[s]]["a"] for s in symbols]))


class _Builder:
    """Random structures from one seeded generator (every draw in a fixed order: deterministic)."""

    def __init__(self, elements: Sequence[str], alloy_fraction: float, strain: float, seed: int) -> None:
        self.elements = list(elements)
        self.alloy_fraction = alloy_fraction
        self.strain = strain
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def composition(self, num_sites: int) -> list[str]:
        """Host element cycling through ``elements``; a random fraction substituted by another one."""
        host = self.elements[self.count % len(self.elements)]
        self.count += 1
        symbols = [host] * num_sites
        if self.alloy_fraction > 0 and len(self.elements) > 1:
            guest = self.rng.choice([e for e in self.elements if e != host])
            num_guests = round(float(self.rng.uniform(0, self.alloy_fraction)) * num_sites)
            for site in self.rng.choice(num_sites, size=num_guests, replace=False):
                symbols[site] = str(guest)
        return symbols

    def bulk(self, repeat: Sequence[int]) -> Any:
        """A strained fcc supercell (``repeat`` of the 4-atom cubic cell) with a drawn composition."""
        import ase.build

        atoms = ase.build.bulk("Cu", "fcc", a=1.0, cubic=True).repeat(tuple(repeat))
        symbols = self.composition(len(atoms))
        atoms.set_chemical_symbols(symbols)
        deformation = np.eye(3) + self.rng.uniform(-self.strain, self.strain, (3, 3))
        deformation = 0.5 * (deformation + deformation.T)
        atoms.set_cell(atoms.cell.array * _lattice_constant(symbols) @ deformation, scale_atoms=True)
        return atoms

    def rattle(self, atoms: Any, std: float) -> Any:
        atoms.positions += self.rng.normal(0.0, std, atoms.positions.shape)
        return atoms

    def surface(self, size: Sequence[int], vacuum: float) -> Any:
        """An fcc(111) or fcc(100) slab with ``vacuum`` A on each side along z."""
        import ase.build

        make = ase.build.fcc100 if self.rng.integers(2) else ase.build.fcc111  # fcc111: a 60-degree cell
        num_sites = len(make("Cu", size=tuple(size), a=1.0))
        symbols = self.composition(num_sites)
        atoms = make("Cu", size=tuple(size), a=_lattice_constant(symbols), vacuum=vacuum)
        atoms.set_chemical_symbols(symbols)
        atoms.info.pop("adsorbate_info", None)
        atoms.pbc = (True, True, False)
        return atoms


def _md_frames(
    builder: _Builder, atoms: Any, temperature: float, frames: int, interval: int, timestep_fs: float
):
    """``frames`` snapshots, ``interval`` Langevin steps apart, after ``2 * interval`` steps of warm-up."""
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin

    atoms = atoms.copy()
    atoms.calc = EMT()
    # Maxwell-Boltzmann momenta at ``temperature``, without centre-of-mass motion
    masses = atoms.get_masses()[:, None]
    momenta = builder.rng.normal(size=atoms.positions.shape) * np.sqrt(masses * units.kB * temperature)
    atoms.set_momenta(momenta - masses * momenta.sum(axis=0) / masses.sum())
    dynamics = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature,
        friction=0.02 / units.fs,
        fixcm=False,
        rng=builder.rng,
    )
    dynamics.run(2 * interval)
    out = []
    for _ in range(frames):
        dynamics.run(interval)
        out.append(_labelled(atoms, f"md_{temperature:g}K"))
    return out


def generate_emt(
    path: str | None = None,
    elements: Sequence[str] = ("Cu",),
    supercells: Sequence[Sequence[int]] = ((2, 2, 2), (3, 3, 3)),
    rattle_frames: int = 60,
    rattle_std: float = 0.1,
    strain: float = 0.02,
    md_temperatures: Sequence[float] = (300.0, 800.0, 1300.0),
    md_frames: int = 10,
    md_interval: int = 10,
    md_timestep_fs: float = 2.0,
    vacancy_frames: int = 20,
    max_vacancies: int = 2,
    surface_frames: int = 0,
    surface_size: Sequence[int] = (3, 3, 4),
    vacuum: float = 6.0,
    alloy_fraction: float = 0.0,
    seed: int = 0,
    cache_dir: str | None = None,
) -> str:
    """Write an EMT-labelled extxyz data set (once) and return its path.

    Args:
        path: where to write; None: ``cache_dir/emt_<hash of every parameter>.extxyz``, reused when there.
        elements: host elements, cycled through the structures (subset of Al Cu Ag Au Ni Pd Pt).
        supercells: repeats of the 4-atom cubic fcc cell (``[3, 3, 3]``: 108 atoms), cycled through.
        rattle_frames: bulk cells with Gaussian displacements of std ``rattle_std`` (A).
        strain: every bulk cell is deformed by ``1 + U(-strain, strain)`` (symmetrised), so that stress
            and volume vary.
        md_temperatures, md_frames, md_interval, md_timestep_fs: for each temperature (K) and supercell a
            Langevin run (friction 0.02/fs) keeps ``md_frames`` snapshots ``md_interval`` steps apart.
        vacancy_frames, max_vacancies: rattled cells with 1..``max_vacancies`` atoms removed.
        surface_frames, surface_size, vacuum: rattled (111)/(100) slabs, ``vacuum`` A each side, no stress.
        alloy_fraction: > 0 with several elements: up to this fraction of sites take another element.
        seed: everything random is drawn from ``numpy.random.default_rng(seed)``.
        cache_dir: default ``$E3LAB_CACHE_DIR/data`` (``~/.cache/e3lab/data``).

    Each frame's ``info["config_type"]`` says how it was made (``rattle``, ``md_300K``, ``vacancy``,
    ``surface``). Energies in eV, forces eV/A, stress eV/A^3 (ASE's convention).
    """
    import ase

    unknown = sorted(set(elements) - set(EMT_ELEMENTS))
    if unknown or not elements:
        raise ValueError(
            f"elements={list(elements)}: EMT knows {list(EMT_ELEMENTS)}; {unknown} are not among them"
        )
    if not supercells or any(len(s) != 3 or min(s) < 1 for s in supercells):
        raise ValueError(f"supercells={supercells} must be a non-empty list of 3 positive repeats each")
    params = {
        "elements": list(elements),
        "supercells": [list(s) for s in supercells],
        "rattle": [rattle_frames, rattle_std, strain],
        "md": [list(md_temperatures), md_frames, md_interval, md_timestep_fs],
        "vacancy": [vacancy_frames, max_vacancies],
        "surface": [surface_frames, list(surface_size), vacuum],
        "alloy_fraction": alloy_fraction,
        "seed": seed,
    }
    target = Path(path) if path is not None else None
    if target is None:
        key = cache_key(kind="emt", generator=_GENERATOR_VERSION, ase=ase.__version__, **params)
        target = Path(cache_dir or default_cache_dir()) / f"emt_{key}.extxyz"
        if target.is_file():
            return str(target)
    log.info("generating the EMT data set %s", target)
    builder = _Builder(elements, alloy_fraction, strain, seed)
    frames = []
    for k in range(rattle_frames):
        atoms = builder.rattle(builder.bulk(supercells[k % len(supercells)]), rattle_std)
        frames.append(_labelled(atoms, "rattle"))
    for temperature in md_temperatures:
        for repeat in supercells:
            start = builder.rattle(builder.bulk(repeat), 0.02)
            frames += _md_frames(builder, start, temperature, md_frames, md_interval, md_timestep_fs)
    for k in range(vacancy_frames):
        atoms = builder.rattle(builder.bulk(supercells[k % len(supercells)]), rattle_std)
        removed = builder.rng.choice(
            len(atoms), size=int(builder.rng.integers(1, max_vacancies + 1)), replace=False
        )
        del atoms[sorted(removed.tolist())]
        frames.append(_labelled(atoms, "vacancy"))
    for _ in range(surface_frames):
        frames.append(_labelled(builder.rattle(builder.surface(surface_size, vacuum), rattle_std), "surface"))
    _write_extxyz(target, frames)
    return str(target)


def nequip_toy_cu(path: str | None = None, n_frames: int = 250, cache_dir: str | None = None) -> str:
    """NequIP's toy set as extxyz: fcc Cu, orthorhombic cell repeated 4x4x4 (128 atoms), every frame the
    perfect crystal plus Gaussian noise of std 0.1 A from ``numpy.random.default_rng(1)``, EMT energy,
    forces and stress. The first ``n`` frames do not depend on ``n_frames``.

    ``path``: where to write; None: ``cache_dir/nequip_toy_cu_<n_frames>_<hash>.extxyz`` (reused). Returns
    the path.
    """
    import ase
    import ase.build

    if n_frames < 1:
        raise ValueError(f"n_frames={n_frames} must be >= 1")
    target = Path(path) if path is not None else None
    if target is None:
        key = cache_key(kind="nequip_toy_cu", generator=_GENERATOR_VERSION, ase=ase.__version__, n=n_frames)
        target = Path(cache_dir or default_cache_dir()) / f"nequip_toy_cu_{n_frames}_{key}.extxyz"
        if target.is_file():
            return str(target)
    crystal = ase.build.bulk("Cu", "fcc", orthorhombic=True).repeat((4, 4, 4))
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(n_frames):
        atoms = crystal.copy()
        atoms.positions = crystal.positions + rng.normal(0, 0.1, crystal.positions.shape)
        frames.append(_labelled(atoms, "rattle"))
    _write_extxyz(target, frames)
    return str(target)
