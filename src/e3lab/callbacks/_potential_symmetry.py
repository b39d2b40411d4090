"""How far a potential's energy, forces and stress are from the symmetries of physics, on one batch.

Under a rotation or inversion ``R`` of positions and cell: the energy is invariant, forces rotate as
``1o`` vectors (``F -> F @ R.T``; the inversion flips them) and the stress as a rank-2 tensor
(``S -> R S R.T``). Permuting atoms permutes the forces and changes nothing else; translating, wrapping
positions into the cell and moving an atom by a lattice vector change nothing.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from e3lab.callbacks._atoms_transforms import (
    lattice_shift,
    periodic_structures,
    permute_atoms,
    rotate,
    translate,
    wrap_into_cell,
)
from e3lab.callbacks._equivariance_check import EuclideanTransform, relative_error
from e3lab.graph import AtomsBatch

__all__ = ["potential_symmetry_errors", "predict_outputs"]

Outputs = dict[str, Tensor]


def predict_outputs(model: Any, batch: AtomsBatch, stress: bool) -> Outputs:
    """``energy [B]``, ``forces [N, 3]`` and, with ``stress``, ``stress [B, 3, 3]`` of ``model.predict``
    (detached)."""
    out = model.predict(batch, forces=True, stress=stress, create_graph=False)
    keys = ("energy", "forces", "stress") if stress else ("energy", "forces")
    return {key: out[key].detach() for key in keys}


def _compare(outputs: Outputs, reference: Outputs) -> dict[str, Tensor]:
    return {key: relative_error(outputs[key], reference[key]) for key in reference}


def _worst(errors: dict[str, Tensor]) -> Tensor:
    return torch.stack(list(errors.values())).max()


def potential_symmetry_errors(
    model: Any,
    batch: AtomsBatch,
    transform: EuclideanTransform,
    cutoff: float,
    stress: bool,
    generator: torch.Generator,
) -> dict[str, Tensor]:
    """Relative errors (see :func:`relative_error`) of ``model.predict`` under each symmetry.

    Args:
        model: has ``predict(batch, forces, stress, create_graph)``; evaluated as it is (mode, dtype).
        batch: the structures, in the model's dtype and device.
        transform: the rotation-inversion ``matrix``, per-structure ``translation`` and ``permutation``.
        cutoff: the model's cutoff, for the rebuilt neighbour lists of the periodic checks.
        stress: compare stresses too (every structure must be periodic in 3D).
        generator: CPU generator for the periodic checks' random translation and lattice shifts.

    Returns:
        ``energy``, ``forces`` (and ``stress``) under the rotation-inversion; ``permutation`` and
        ``translation`` (the worst of energy, forces, stress); ``periodic_wrap`` (a random translation,
        then positions wrapped into the cell) and ``lattice_shift`` (one atom of every periodic structure
        moved by a random lattice vector) when a structure is periodic. Scalar tensors.
    """
    reference = predict_outputs(model, batch, stress)
    R = transform.matrix.to(batch.pos)
    rotated = predict_outputs(model, rotate(batch, R), stress)
    expected = {"energy": reference["energy"], "forces": reference["forces"] @ R.T}
    if stress:
        expected["stress"] = R @ reference["stress"] @ R.T
    errors = _compare(rotated, expected)

    perm = transform.permutation.to(batch.pos.device)
    permuted = predict_outputs(model, permute_atoms(batch, perm), stress)
    errors["permutation"] = _worst(_compare(permuted, {**reference, "forces": reference["forces"][perm]}))
    translated = predict_outputs(model, translate(batch, transform.translation), stress)
    errors["translation"] = _worst(_compare(translated, reference))

    periodic = periodic_structures(batch)
    if bool(periodic.any()):
        shift = torch.randn(batch.num_graphs, 3, generator=generator, dtype=torch.float64)
        wrapped = wrap_into_cell(translate(batch, 3.0 * shift), cutoff)
        errors["periodic_wrap"] = _worst(_compare(predict_outputs(model, wrapped, stress), reference))
        atoms, shifts = _random_lattice_moves(batch, periodic, generator)
        moved = lattice_shift(batch, atoms, shifts, cutoff)
        errors["lattice_shift"] = _worst(_compare(predict_outputs(model, moved, stress), reference))
    return errors


def _random_lattice_moves(
    batch: AtomsBatch, periodic: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """One random atom of every periodic structure and a nonzero integer shift in ``[-2, 2]`` along its
    periodic lattice vectors: ``([k], [k, 3])``."""
    atoms, shifts = [], []
    for b in periodic.nonzero().flatten().tolist():
        lo, hi = int(batch.ptr[b]), int(batch.ptr[b + 1])
        atoms.append(lo + int(torch.randint(hi - lo, (), generator=generator)))
        mask = batch.pbc[b].cpu()
        shift = torch.zeros(3, dtype=torch.long)
        while not bool(shift.any()):
            shift = torch.randint(-2, 3, (3,), generator=generator) * mask
        shifts.append(shift)
    return torch.tensor(atoms, dtype=torch.long), torch.stack(shifts)
