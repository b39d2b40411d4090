"""Energy, forces and stress of a batch of structures from a per-atom energy function, by autograd."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.profiler import record_function

from e3lab import _value_checks
from e3lab.graph import AtomsBatch

# profiler ranges of a prediction (the timing breakdown shows them): the energy pass, then one gradient
# pass, named "forces" when forces are asked for (stress comes from the same pass) and "stress" otherwise
PREDICT_STAGES = ("energy", "forces", "stress")

AtomicEnergy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cell_volumes(cell: torch.Tensor) -> torch.Tensor:
    """``|det(cell)|`` of ``cell: [B, 3, 3]``, raising ValueError for a cell without volume (not while traced:
    the calculator checks the cell before it runs an exported potential)."""
    volume = torch.linalg.det(cell).abs()
    flat = volume <= 1e-12
    if not _value_checks.being_traced() and bool(flat.any()):  # a trace (export) has no values to check
        k = int(flat.nonzero()[0, 0])
        raise ValueError(
            f"stress needs a cell with a volume, but structure {k} of the batch has cell volume "
            f"{float(volume[k]):.3g} A^3 (cell {cell[k].tolist()}): ask for stress of periodic structures "
            "only"
        )
    return volume


def energy_forces_stress(
    atomic_energy: AtomicEnergy,
    batch: AtomsBatch,
    forces: bool = True,
    stress: bool = False,
    create_graph: bool = False,
) -> dict[str, torch.Tensor]:
    """``energy [B]`` and ``atomic_energy [N]``, plus ``forces [N, 3]`` and ``stress [B, 3, 3]`` if asked.

    ``atomic_energy(pos, edge_vec) -> [N]`` is the energy of each atom, given the positions and the edge
    vectors (``batch.edge_vectors``). Forces are ``-dE/dpos``. Stress is ``(1/V) dE/d(strain)`` for a
    symmetric strain ``e`` applied to positions and cell together (``r -> r (1 + e)``, ``cell -> cell (1 +
    e)``, ASE's convention, eV/A^3), the gradient taken at ``e = 0``. ``create_graph`` keeps the graph of
    the gradients, so a loss on forces or stress can be differentiated again (training).
    """
    pos, cell = batch.pos, batch.cell
    wanted: list[torch.Tensor] = []
    if forces and not pos.requires_grad:
        pos = pos.detach().requires_grad_(True)
    if forces:
        wanted.append(pos)
    if stress:
        strain = torch.zeros_like(cell, requires_grad=True)
        symmetric = 0.5 * (strain + strain.transpose(1, 2))
        pos = pos + torch.einsum("ni,nij->nj", pos, symmetric[batch.batch])
        cell = cell + torch.bmm(cell, symmetric)
        wanted.append(strain)
    with record_function("energy"):
        atomic = atomic_energy(pos, batch.edge_vectors(pos, cell))
        if batch.num_graphs == 1:
            # one structure (the calculator, MD): a plain sum; AOTInductor's vectorised C++ cannot emit a
            # scatter into a single element (torch 2.13: AssertionError in CppVecKernel.store)
            energy = atomic.sum().reshape(1)
        else:
            energy = atomic.new_zeros(batch.num_graphs).index_add(0, batch.batch, atomic)
    out = {"energy": energy, "atomic_energy": atomic}
    if not wanted:
        return out
    with record_function("forces" if forces else "stress"):
        if energy.requires_grad:
            grads = torch.autograd.grad(
                energy.sum(), wanted, create_graph=create_graph, allow_unused=True, materialize_grads=True
            )
        else:  # nothing depends on the positions (no edges, frozen weights): zero forces and stress
            grads = tuple(torch.zeros_like(t) for t in wanted)
    if forces:
        out["forces"] = -grads[0]
    if stress:
        out["stress"] = grads[-1] / cell_volumes(batch.cell)[:, None, None]
    return out
