"""Symmetry transforms of an ``AtomsBatch``: the operations a potential's predictions must respect.

Rotations (and the inversion) act on positions and cell together, ``pos -> pos @ R.T`` and
``cell -> cell @ R.T`` (lattice vectors are rows), so edges and their integer shifts stay valid.
Permutations relabel atoms within each structure. Translations move each structure as a whole. The
periodic transforms, wrapping positions into the cell and moving one atom by a lattice vector, change
which image of an atom sits in the cell: their neighbour lists are rebuilt with
:func:`e3lab.graph.neighbor_list`. Transformed batches carry no targets (energy, forces, stress).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from e3lab.graph import AtomsBatch, AtomsGraph, collate_atoms, neighbor_list

__all__ = [
    "lattice_shift",
    "periodic_structures",
    "permute_atoms",
    "rebuild_edges",
    "rotate",
    "translate",
    "wrap_into_cell",
]


def _inputs_only(batch: AtomsBatch, **changes: Tensor) -> AtomsBatch:
    return dataclasses.replace(batch, energy=None, forces=None, stress=None, **changes)


def rotate(batch: AtomsBatch, matrix: Tensor) -> AtomsBatch:
    """Positions and cell rotated by ``matrix: [3, 3]`` (orthogonal; det -1 includes the inversion)."""
    R = matrix.to(batch.pos)
    return _inputs_only(batch, pos=batch.pos @ R.T, cell=batch.cell @ R.T)


def translate(batch: AtomsBatch, translation: Tensor) -> AtomsBatch:
    """Every atom of structure ``b`` moved by ``translation[b]`` (``[B, 3]``); edges kept."""
    return _inputs_only(batch, pos=batch.pos + translation.to(batch.pos)[batch.batch])


def permute_atoms(batch: AtomsBatch, permutation: Tensor) -> AtomsBatch:
    """New atom ``k`` is old atom ``permutation[k]`` (``[N]``, within structures); edges relabelled."""
    perm = permutation.to(batch.pos.device)
    if not torch.equal(batch.batch[perm], batch.batch):
        raise ValueError("permutation must keep every atom in its own structure")
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel(), device=perm.device)
    return _inputs_only(
        batch, pos=batch.pos[perm], species=batch.species[perm], edge_index=inverse[batch.edge_index]
    )


def rebuild_edges(batch: AtomsBatch, cutoff: float) -> AtomsBatch:
    """The same atoms and cells with a fresh neighbour list per structure (:func:`neighbor_list`)."""
    graphs = []
    for b in range(batch.num_graphs):
        lo, hi = int(batch.ptr[b]), int(batch.ptr[b + 1])
        pos, cell, pbc = batch.pos[lo:hi], batch.cell[b], batch.pbc[b]
        edge_index, edge_shift = neighbor_list(pos, cutoff, cell=cell, pbc=pbc)
        graphs.append(AtomsGraph(pos, batch.species[lo:hi], cell, pbc, edge_index, edge_shift.to(pos)))
    return collate_atoms(graphs)


def periodic_structures(batch: AtomsBatch) -> Tensor:
    """``[B]`` bool: structures periodic along at least one lattice vector."""
    return batch.pbc.any(dim=1)


def wrap_into_cell(batch: AtomsBatch, cutoff: float) -> AtomsBatch:
    """Fractional coordinates along periodic lattice vectors taken modulo 1; neighbour list rebuilt.

    Coordinates along non-periodic directions are unchanged (the fractional coordinates use the cell's
    periodic rows completed by an orthonormal basis of their complement, so a zero or degenerate
    non-periodic cell vector is fine).
    """
    basis = _periodic_basis(batch.cell, batch.pbc)[batch.batch]  # [N, 3, 3]
    frac = torch.linalg.solve(basis.transpose(1, 2), batch.pos.unsqueeze(-1)).squeeze(
        -1
    )  # pos = frac @ basis
    periodic = batch.pbc[batch.batch]
    frac = torch.where(periodic, frac - torch.floor(frac), frac)
    pos = torch.einsum("nk,nkc->nc", frac, basis)
    return rebuild_edges(_inputs_only(batch, pos=pos), cutoff)


def lattice_shift(batch: AtomsBatch, atoms: Tensor, shifts: Tensor, cutoff: float) -> AtomsBatch:
    """Atom ``atoms[k]`` moved by the lattice vector ``shifts[k] @ cell`` of its structure (``atoms: [k]``,
    ``shifts: [k, 3]`` integers, zero along non-periodic directions); neighbour list rebuilt."""
    structures = batch.batch[atoms.to(batch.batch.device)]
    off_axis = shifts.to(batch.pbc.device).ne(0) & ~batch.pbc[structures]
    if bool(off_axis.any()):
        k = int(off_axis.any(dim=1).nonzero()[0])
        raise ValueError(
            f"shift {shifts[k].tolist()} moves atom {int(atoms[k])} along a non-periodic direction "
            f"(pbc {batch.pbc[structures[k]].tolist()}); give zero shifts along non-periodic axes"
        )
    vectors = torch.einsum("kc,kcd->kd", shifts.to(batch.pos), batch.cell[structures])
    pos = batch.pos.index_add(0, atoms.to(batch.pos.device), vectors)
    return rebuild_edges(_inputs_only(batch, pos=pos), cutoff)


def _periodic_basis(cell: Tensor, pbc: Tensor) -> Tensor:
    """``[B, 3, 3]``: the periodic rows of ``cell``; non-periodic rows replaced by an orthonormal basis of
    the orthogonal complement of the periodic ones (identity rows for a structure with no periodic axis)."""
    basis = cell.clone()
    for b in range(cell.shape[0]):
        periodic = pbc[b]
        if bool(periodic.all()):
            continue
        rows = cell[b][periodic]
        if rows.shape[0] == 0:
            basis[b] = torch.eye(3, dtype=cell.dtype, device=cell.device)
            continue
        _, _, vh = torch.linalg.svd(rows, full_matrices=True)
        basis[b][~periodic] = vh[rows.shape[0] :]
    return basis
