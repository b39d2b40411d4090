"""Statistics of a training set of structures that a potential's config reads (NequIP/MACE-style).

All in float64, from the training split only:

- ``avg_num_neighbors``: edges per atom (the normalisation of the convolution's sum over neighbours);
- ``num_structures``, ``num_atoms_mean``;
- ``per_atom_energy_mean``, ``per_atom_energy_std``: of ``E / n`` over structures (eV/atom);
- ``per_element_energy_shift``: least-squares fit ``E ~ sum_e count_e * shift_e`` (eV, one number per
  chemical symbol, in ``chemical_symbols`` order). An element absent from training gets
  ``per_atom_energy_mean`` (with a warning): the model then starts it at the average atom;
- ``per_atom_energy_residual_rms``: RMS of ``(E - sum_e count_e * shift_e) / n`` (eV/atom), the energy
  scale left after the shifts;
- ``force_rms``: root mean square force component (eV/A); ``per_element_force_rms`` per element
  (``force_rms`` for elements absent from training).

Energy entries are present only when every structure has an energy, force entries when every one has
forces.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from e3lab.graph import AtomsGraph

__all__ = ["atoms_statistics"]


def _energy_shifts(counts: torch.Tensor, energy: torch.Tensor, symbols: Sequence[str]) -> torch.Tensor:
    """Least-squares per-element shifts ``[S]`` from ``counts [B, S]`` and ``energy [B]``."""
    present = counts.sum(dim=0) > 0
    shifts = torch.full((counts.shape[1],), float("nan"), dtype=torch.float64)
    A = counts[:, present]
    rank = int(torch.linalg.matrix_rank(A))
    if rank < A.shape[1]:
        warnings.warn(
            f"the training compositions do not determine one energy shift per element (rank {rank} < "
            f"{A.shape[1]} elements: e.g. the elements always appear in the same ratio); using the "
            "minimum-norm least-squares shifts",
            stacklevel=3,
        )
    shifts[present] = torch.linalg.lstsq(A, energy[:, None], driver="gelsd").solution[:, 0]
    absent = [symbols[k] for k in (~present).nonzero().flatten().tolist()]
    if absent:
        warnings.warn(
            f"element(s) {absent} do not occur in the training split; their energy shift is set to the "
            "mean energy per atom and their force scale to the overall force RMS",
            stacklevel=3,
        )
    return shifts


def atoms_statistics(graphs: Sequence[AtomsGraph], chemical_symbols: Sequence[str]) -> dict:
    """Statistics (see the module docstring) of ``graphs``, the training structures.

    Returns a dict of floats and lists of floats (one per chemical symbol), JSON-serialisable.
    """
    if not graphs:
        raise ValueError("no training structures to compute statistics from; the train split is empty")
    num_species = len(chemical_symbols)
    num_atoms = torch.tensor([g.num_atoms for g in graphs], dtype=torch.float64)
    num_edges = sum(g.edge_index.shape[1] for g in graphs)
    stats: dict = {
        "num_structures": float(len(graphs)),
        "num_atoms_mean": float(num_atoms.mean()),
        "avg_num_neighbors": num_edges / float(num_atoms.sum()),
    }
    if all(g.energy is not None for g in graphs):
        energy = torch.stack([g.energy for g in graphs]).double()
        counts = torch.stack(
            [torch.bincount(g.species, minlength=num_species) for g in graphs]
        ).double()  # [B, S]
        per_atom = energy / num_atoms
        shifts = _energy_shifts(counts, energy, chemical_symbols)
        mean = float(per_atom.mean())
        shifts = torch.where(torch.isnan(shifts), mean, shifts)
        residual = (energy - counts @ shifts) / num_atoms
        stats["per_atom_energy_mean"] = mean
        stats["per_atom_energy_std"] = float(per_atom.std(unbiased=False))
        stats["per_element_energy_shift"] = shifts.tolist()
        stats["per_atom_energy_residual_rms"] = float(residual.square().mean().sqrt())
    if all(g.forces is not None for g in graphs):
        forces = torch.cat([g.forces for g in graphs]).double()  # [N, 3]
        species = torch.cat([g.species for g in graphs])
        force_rms = float(forces.square().mean().sqrt())
        sum_sq = torch.zeros(num_species, dtype=torch.float64).index_add_(0, species, forces.square().sum(1))
        components = 3 * torch.bincount(species, minlength=num_species).double()
        per_element = torch.where(components > 0, (sum_sq / components.clamp(min=1)).sqrt(), force_rms)
        stats["force_rms"] = force_rms
        stats["per_element_force_rms"] = per_element.tolist()
    return stats
