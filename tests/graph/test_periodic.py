"""neighbor_list: edge sets and vectors equal to ASE's on triclinic, small, slab, unwrapped and open cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list

from e3lab.graph import neighbor_list


def random_cell(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """A random triclinic cell: diagonal in [low, high], off-diagonal shear up to a third of low."""
    return np.diag(rng.uniform(low, high, 3)) + rng.uniform(-low / 3, low / 3, (3, 3))


def ase_edges(pos: np.ndarray, cell: np.ndarray, pbc, cutoff: float) -> tuple[set, dict]:
    atoms = Atoms(numbers=[1] * len(pos), positions=pos, cell=cell, pbc=pbc)
    i, j, S, D = ase_neighbor_list("ijSD", atoms, cutoff)
    keys = list(zip(i.tolist(), j.tolist(), map(tuple, S.tolist()), strict=True))
    return set(keys), dict(zip(keys, D, strict=True))


def our_edges(pos, cell, pbc, cutoff: float, dtype=torch.float64) -> tuple[set, dict, torch.Tensor]:
    """Our edges keyed like ASE's: edge j -> i with shift s is ASE's pair (i, j, -s)."""
    cell_t = None if cell is None else torch.tensor(cell, dtype=dtype)
    pos_t = torch.tensor(pos, dtype=dtype)
    edge_index, edge_shift = neighbor_list(pos_t, cutoff, cell_t, pbc)
    assert edge_index.dtype == torch.long and edge_shift.dtype == dtype
    assert torch.equal(edge_shift, edge_shift.round())
    vec = pos_t[edge_index[1]] - pos_t[edge_index[0]]
    if cell_t is not None:
        vec = vec + edge_shift @ cell_t
    shifts = map(tuple, (-edge_shift).long().tolist())
    keys = list(zip(edge_index[1].tolist(), edge_index[0].tolist(), shifts, strict=True))
    return set(keys), dict(zip(keys, vec.numpy(), strict=True)), edge_index


CASES = {
    # name: (cell low, cell high, pbc, atoms, fractional spread of the positions)
    "small_triclinic": (2.0, 3.5, (True, True, True), 5, (0.0, 1.0)),
    "large_triclinic": (11.0, 13.0, (True, True, True), 150, (0.0, 1.0)),
    "slab": (3.0, 5.0, (True, True, False), 8, (0.0, 1.0)),
    "wire": (3.0, 5.0, (True, False, False), 8, (0.0, 1.0)),
    "unwrapped": (2.5, 4.0, (True, True, True), 6, (-3.0, 4.0)),
    "unwrapped_slab": (2.5, 4.0, (True, True, False), 6, (-2.0, 3.0)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edges_and_vectors_equal_ase(name: str, seed: int) -> None:
    low, high, pbc, n, (lo, hi) = CASES[name]
    rng = np.random.default_rng(seed)
    cell = random_cell(rng, low, high)
    pos = rng.uniform(lo, hi, (n, 3)) @ cell
    cutoff = 5.0
    ref, ref_vec = ase_edges(pos, cell, pbc, cutoff)
    ours, our_vec, _ = our_edges(pos, cell, pbc, cutoff)
    assert len(ref) > 0
    assert ours == ref
    keys = sorted(ref)
    ours_d = np.stack([our_vec[k] for k in keys])
    np.testing.assert_allclose(ours_d, -np.stack([ref_vec[k] for k in keys]), atol=1e-10)


def test_cell_smaller_than_cutoff_has_many_images_of_one_neighbour() -> None:
    rng = np.random.default_rng(3)
    cell = random_cell(rng, 1.5, 2.0)  # every vector far shorter than the cutoff
    pos = rng.uniform(0, 1, (2, 3)) @ cell
    ref, _ = ase_edges(pos, cell, (True, True, True), 4.0)
    ours, _, edge_index = our_edges(pos, cell, (True, True, True), 4.0)
    assert ours == ref
    pairs = edge_index.t().tolist()
    assert pairs.count([1, 0]) > 10  # many images of atom 1 around atom 0
    assert pairs.count([0, 0]) > 10  # self-images, never the zero-shift self edge
    assert not any(i == j and s == (0, 0, 0) for i, j, s in ours)


def test_molecule_is_a_plain_radius_graph() -> None:
    rng = np.random.default_rng(4)
    pos = rng.uniform(0, 6, (30, 3))
    ref, _ = ase_edges(pos, np.zeros((3, 3)), (False, False, False), 2.5)
    for cell, pbc in ((None, None), (np.zeros((3, 3)), (False, False, False)), (np.eye(3) * 2, None)):
        ours, _, _ = our_edges(pos, cell, pbc, 2.5)
        assert ours == ref
    distances = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    assert len(ref) == int(((distances < 2.5) & ~np.eye(30, dtype=bool)).sum())


def test_float32_matches_ase() -> None:
    rng = np.random.default_rng(5)
    cell = random_cell(rng, 6.0, 8.0)
    pos = rng.uniform(0, 1, (40, 3)) @ cell
    ref, _ = ase_edges(pos.astype(np.float32).astype(np.float64), cell.astype(np.float32), (True,) * 3, 4.0)
    ours, _, _ = our_edges(pos, cell, (True,) * 3, 4.0, dtype=torch.float32)
    assert ours == ref


def test_sorted_by_target_source_shift() -> None:
    rng = np.random.default_rng(6)
    cell = random_cell(rng, 2.0, 3.0)
    pos = torch.tensor(rng.uniform(0, 1, (4, 3)) @ cell)
    edge_index, edge_shift = neighbor_list(pos, 4.0, torch.tensor(cell), [True, True, True])
    keys = [(i, j, *s) for (j, i), s in zip(edge_index.t().tolist(), edge_shift.long().tolist(), strict=True)]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_lattice_translations_of_atoms_change_no_edge_vector() -> None:
    rng = np.random.default_rng(7)
    cell = torch.tensor(random_cell(rng, 3.0, 4.0))
    pos = torch.tensor(rng.uniform(0, 1, (6, 3))) @ cell
    moved = pos + torch.tensor(rng.integers(-3, 4, (6, 3)), dtype=pos.dtype) @ cell

    def vectors(p: torch.Tensor) -> list:
        edge_index, edge_shift = neighbor_list(p, 4.5, cell, [True, True, True])
        vec = p[edge_index[1]] - p[edge_index[0]] + edge_shift @ cell
        return sorted(zip(edge_index.t().tolist(), vec.round(decimals=8).tolist(), strict=True))

    assert vectors(pos) == vectors(moved)


def test_one_atom_and_isolated_atoms_have_no_edges() -> None:
    edge_index, edge_shift = neighbor_list(torch.zeros(1, 3), 5.0)
    assert edge_index.shape == (2, 0) and edge_shift.shape == (0, 3)
    far = torch.tensor([[0.0, 0, 0], [10.0, 0, 0]])
    edge_index, edge_shift = neighbor_list(far, 3.0, torch.eye(3) * 30, [True, True, True])
    assert edge_index.shape == (2, 0) and edge_shift.shape == (0, 3)
    edge_index, _ = neighbor_list(torch.zeros(0, 3), 3.0)
    assert edge_index.shape == (2, 0)


def test_slab_with_zero_vector_along_the_open_axis() -> None:
    rng = np.random.default_rng(8)
    cell = random_cell(rng, 3.0, 4.0)
    pos = rng.uniform(0, 1, (6, 3)) @ cell
    ref, _ = ase_edges(pos, cell, (True, True, False), 4.0)
    open_cell = cell.copy()
    open_cell[2] = 0.0
    ours, _, _ = our_edges(pos, open_cell, (True, True, False), 4.0)
    assert ours == ref


def test_errors_name_the_problem_and_the_fix() -> None:
    pos = torch.rand(4, 3)
    with pytest.raises(ValueError, match=r"cell vector c \(cell\[2\]\) is zero.*pbc\[2\]=False"):
        neighbor_list(pos, 3.0, torch.diag(torch.tensor([3.0, 3.0, 0.0])), [True, True, True])
    singular = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [3.0, 3.0, 0]])
    with pytest.raises(ValueError, match="linearly dependent"):
        neighbor_list(pos, 3.0, singular, [True, True, True])
    with pytest.raises(ValueError, match="no cell was given"):
        neighbor_list(pos, 3.0, None, [True, False, False])
    bad = pos.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or Inf.*atom 2"):
        neighbor_list(bad, 3.0)
    bad[2, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        neighbor_list(bad, 3.0, torch.eye(3) * 5, [True] * 3)
    with pytest.raises(ValueError, match="cutoff must be"):
        neighbor_list(pos, 0.0)
    with pytest.raises(ValueError, match="3 entries"):
        neighbor_list(pos, 3.0, torch.eye(3), [True, True])
    with pytest.raises(ValueError, match="so small"):
        neighbor_list(pos, 3.0, torch.eye(3) * 1e-3, [True] * 3)
