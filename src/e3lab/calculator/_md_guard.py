"""Is an MD step still physical? Non-finite energies or forces, atoms too close, or a total-energy jump."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from e3lab.graph import neighbor_list

__all__ = ["StabilityGuard"]


@dataclass
class StabilityGuard:
    """Checks one MD state after a step; :meth:`check` returns why it is broken, or None.

    Args:
        min_distance: atoms closer than this (A) mean the potential let them collapse.
        max_energy_jump: largest change of the total energy per atom (eV) from one step to the next; a
            working integrator at a sane time step changes it by far less (about 1e-4 eV/atom at 1 fs).
    """

    min_distance: float = 0.5
    max_energy_jump: float = 0.05
    _previous_total: float | None = None
    last_closest: float = float("inf")

    def closest_pair(self, atoms: Any) -> float:
        """Shortest interatomic distance (A), from the calculator when it knows it, else a short list."""
        known = getattr(atoms.calc, "min_distance", None)
        if known is not None:
            return float(known)
        pos = torch.as_tensor(np.asarray(atoms.positions), dtype=torch.float64)
        cell = torch.as_tensor(np.asarray(atoms.cell.array), dtype=torch.float64)
        edge_index, shift = neighbor_list(pos, self.min_distance, cell, torch.as_tensor(atoms.pbc))
        if edge_index.shape[1] == 0:
            return float("inf")
        vec = pos[edge_index[1]] - pos[edge_index[0]] + shift @ cell
        return float(torch.linalg.vector_norm(vec, dim=1).min())

    def check(self, atoms: Any, potential: float, kinetic: float, forces: np.ndarray) -> str | None:
        """None when the state is fine, else a sentence saying what broke."""
        if not np.isfinite(potential) or not np.isfinite(kinetic):
            return f"non-finite energy (potential {potential}, kinetic {kinetic} eV)"
        bad = ~np.isfinite(forces).all(axis=1)
        if bad.any():
            return f"non-finite forces on {int(bad.sum())} atom(s) (first: atom {int(np.argmax(bad))})"
        closest = self.last_closest = self.closest_pair(atoms)
        if closest < self.min_distance:
            return f"two atoms are {closest:.3f} A apart (< min_distance={self.min_distance} A)"
        total = (potential + kinetic) / len(atoms)
        if self._previous_total is not None:
            jump = abs(total - self._previous_total)
            if jump > self.max_energy_jump:
                return (
                    f"the total energy jumped by {jump:.4g} eV/atom in one step (> max_energy_jump="
                    f"{self.max_energy_jump} eV/atom)"
                )
        self._previous_total = total
        return None
