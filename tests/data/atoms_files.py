"""Small structure files for the atoms data tests: random cells with SinglePointCalculator labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator


def random_structure(rng: np.random.Generator, symbols: Sequence[str], periodic: bool = True) -> Atoms:
    """Atoms spread in a ~4 A triclinic cell (at least 1.2 A apart), with random energy/forces/stress."""
    cell = np.diag(rng.uniform(3.5, 4.5, 3)) + rng.uniform(-0.4, 0.4, (3, 3))
    frac = []
    while len(frac) < len(symbols):
        candidate = rng.uniform(0, 1, 3)
        if all(np.linalg.norm((candidate - f) @ cell) > 1.2 for f in frac):
            frac.append(candidate)
    atoms = Atoms(symbols=list(symbols), scaled_positions=np.array(frac), cell=cell, pbc=periodic)
    results = {"energy": float(rng.normal()), "forces": rng.normal(size=(len(atoms), 3))}
    if periodic:
        results["stress"] = rng.normal(size=6)
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def write_random_set(
    path: Path, num_frames: int, seed: int = 0, elements: Sequence[str] = ("Cu", "Au")
) -> Path:
    """``num_frames`` random periodic structures of 2..5 atoms drawn from ``elements``, as extxyz."""
    import ase.io

    rng = np.random.default_rng(seed)
    frames = [
        random_structure(rng, rng.choice(list(elements), size=int(rng.integers(2, 6))).tolist())
        for _ in range(num_frames)
    ]
    ase.io.write(path, frames, format="extxyz")
    return path
