"""AtomsGraph / AtomsBatch / collate_atoms: checks, offsets, round trips, edge vectors and their gradients."""

from __future__ import annotations

import pytest
import torch

from e3lab.graph import AtomsBatch, AtomsGraph, collate_atoms, neighbor_list


def make_structure(n: int, seed: int, periodic: bool = True, targets: bool = True) -> AtomsGraph:
    generator = torch.Generator().manual_seed(seed)
    cell = torch.eye(3) * 4.0 + 0.3 * torch.rand(3, 3, generator=generator)
    pos = torch.rand(n, 3, generator=generator) @ cell
    pbc = torch.tensor([periodic] * 3)
    edge_index, edge_shift = neighbor_list(pos, 3.0, cell, pbc)
    extra = {}
    if targets:
        extra = {
            "energy": torch.randn((), generator=generator),
            "forces": torch.randn(n, 3, generator=generator),
            "stress": torch.randn(3, 3, generator=generator),
        }
    return AtomsGraph(
        pos=pos,
        species=torch.randint(0, 3, (n,), generator=generator),
        cell=cell,
        pbc=pbc,
        edge_index=edge_index,
        edge_shift=edge_shift,
        **extra,
    )


FIELDS = ("pos", "species", "cell", "pbc", "edge_index", "edge_shift", "energy", "forces", "stress")


def test_collate_offsets_and_round_trip() -> None:
    graphs = [make_structure(5, 0), make_structure(1, 1), make_structure(7, 2, periodic=False)]
    batch = collate_atoms(graphs)
    assert isinstance(batch, AtomsBatch) and len(batch) == batch.num_graphs == 3
    assert batch.ptr.tolist() == [0, 5, 6, 13]
    assert batch.batch.tolist() == [0] * 5 + [1] + [2] * 7
    assert batch.num_atoms.tolist() == [5, 1, 7]
    assert batch.cell.shape == (3, 3, 3) and batch.pbc.shape == (3, 3) and batch.energy.shape == (3,)
    assert batch.forces.shape == (13, 3) and batch.stress.shape == (3, 3, 3)
    offsets = torch.repeat_interleave(batch.ptr[:-1], torch.tensor([g.edge_index.shape[1] for g in graphs]))
    assert torch.equal(batch.edge_index, torch.cat([g.edge_index for g in graphs], dim=1) + offsets)
    for i, original in enumerate(graphs):
        back = batch.graph(i)
        for name in FIELDS:
            assert torch.equal(getattr(back, name), getattr(original, name)), name
    with pytest.raises(IndexError):
        batch.graph(3)


def test_edge_vectors_are_image_differences_and_carry_gradients() -> None:
    graphs = [make_structure(4, 3), make_structure(6, 4)]
    batch = collate_atoms(graphs)
    pos = batch.pos.clone().requires_grad_(True)
    cell = batch.cell.clone().requires_grad_(True)
    vec = batch.edge_vectors(pos, cell)
    src, dst = batch.edge_index
    b = batch.batch[src]
    expected = batch.pos[dst] - batch.pos[src] + torch.einsum("ek,ekc->ec", batch.edge_shift, batch.cell[b])
    torch.testing.assert_close(vec, expected)
    assert bool((vec.norm(dim=1) < 3.0).all())  # the neighbour list's cutoff, images included
    vec.square().sum().backward()
    assert pos.grad is not None and cell.grad is not None and cell.grad.abs().sum() > 0
    torch.testing.assert_close(batch.edge_vectors(), expected)


def test_to_moves_and_casts_floating_tensors_only() -> None:
    batch = collate_atoms([make_structure(3, 5), make_structure(2, 6)])
    moved = batch.to("cpu", dtype=torch.float64)
    for name in ("pos", "cell", "edge_shift", "forces", "energy", "stress"):
        assert getattr(moved, name).dtype == torch.float64, name
    assert moved.species.dtype == moved.edge_index.dtype == torch.long and moved.pbc.dtype == torch.bool
    torch.testing.assert_close(moved.pos, batch.pos.double())


def test_targets_all_or_none() -> None:
    without = collate_atoms([make_structure(3, 7, targets=False), make_structure(2, 8, targets=False)])
    assert without.energy is None and without.forces is None and without.stress is None
    with pytest.raises(ValueError, match="structure 1 has no energy"):
        collate_atoms([make_structure(3, 7), make_structure(2, 8, targets=False)])


def test_bad_structures_are_rejected() -> None:
    good = make_structure(3, 9)
    fields = {f: getattr(good, f) for f in ("pos", "species", "cell", "pbc", "edge_index", "edge_shift")}
    with pytest.raises(ValueError, match="pos has shape"):
        AtomsGraph(**{**fields, "pos": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match="species must be an int64"):
        AtomsGraph(**{**fields, "species": torch.zeros(3)})
    with pytest.raises(ValueError, match="pbc must be a bool"):
        AtomsGraph(**{**fields, "pbc": torch.ones(3)})
    with pytest.raises(ValueError, match="edge_shift has shape"):
        AtomsGraph(**{**fields, "edge_shift": torch.zeros(1, 3)})
    with pytest.raises(ValueError, match="edge_index spans"):
        AtomsGraph(**{**fields, "edge_index": torch.tensor([[0], [5]]), "edge_shift": torch.zeros(1, 3)})
    with pytest.raises(ValueError, match="forces has shape"):
        AtomsGraph(**fields, forces=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="empty batch"):
        collate_atoms([])
    with pytest.raises(TypeError, match=r"expected an e3lab\.graph\.AtomsGraph"):
        collate_atoms([good, "not a graph"])
