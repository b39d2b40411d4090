"""Small periodic structures built by hand (e3lab's neighbour list) for the potential tests."""

from __future__ import annotations

import dataclasses

import torch

from e3lab.graph import AtomsBatch, AtomsGraph, collate_atoms, neighbor_list

CUTOFF = 2.5
SYMBOLS = ["Cu", "Au"]

# backbones of the potential tests: small, every path (l = 1 features, several layers) exercised
NEQUIP = {
    "_target_": "e3lab.nn.NequIPNet",
    "irreps_in": "2x0e",
    "num_layers": 2,
    "num_features": 4,
    "radial_hidden": 8,
    "max_radius": CUTOFF,
    "avg_num_neighbors": 8.0,
}
GATED = {
    "_target_": "e3lab.nn.EquivariantConvNet",
    "irreps_in": "2x0e",
    "irreps_hidden": "4x0e + 2x1o + 2x1e",
    "irreps_out": "1x0e",
    "num_layers": 2,
    "lmax": 2,
    "max_radius": CUTOFF,
    "radial_number": 6,
    "radial_hidden": 8,
    "num_neighbors": 8.0,
    "self_interaction": False,
}
BACKBONES = {"nequip": NEQUIP, "gated": GATED}


def structure(
    n: int, seed: int, pbc: tuple[bool, bool, bool] = (True, True, True), targets: bool = True
) -> AtomsGraph:
    """``n`` atoms in a random triclinic cell of edge ~2.2 A (smaller than twice the cutoff: an atom sees
    several images of one neighbour), random species and (with ``targets``) random energy/forces/stress."""
    g = torch.Generator().manual_seed(seed)
    cell = 2.2 * torch.eye(3) + 0.3 * torch.randn(3, 3, generator=g)
    pos = torch.rand(n, 3, generator=g) @ cell
    pbc_t = torch.tensor(pbc)
    edge_index, shift = neighbor_list(pos, CUTOFF, cell, pbc_t)
    species = torch.randint(0, len(SYMBOLS), (n,), generator=g)
    extra = {}
    if targets:
        extra = {
            "energy": torch.randn((), generator=g),
            "forces": torch.randn(n, 3, generator=g),
            "stress": 0.01 * torch.randn(3, 3, generator=g),
        }
    return AtomsGraph(pos, species, cell, pbc_t, edge_index, shift, **extra)


def batch(*sizes: int, seed: int = 0, **kwargs: object) -> AtomsBatch:
    """A batch of ``structure(n, seed + k)`` for each size ``n``."""
    return collate_atoms([structure(n, seed + k, **kwargs) for k, n in enumerate(sizes)])


def moved(batch: AtomsBatch, pos: torch.Tensor, cell: torch.Tensor | None = None) -> AtomsBatch:
    """The same structures (same edges and shifts) at new positions (and cells)."""
    return dataclasses.replace(batch, pos=pos, cell=batch.cell if cell is None else cell)
