"""SkinNeighborList: the same edges as a fresh neighbour list, rebuilt only when needed."""

from __future__ import annotations

import pytest
import torch

from e3lab.calculator import SkinNeighborList
from e3lab.graph import neighbor_list


@pytest.mark.parametrize("cell_size", [4.0, 9.0])  # below and above twice the cutoff
def test_edges_equal_a_fresh_list_while_atoms_move(cell_size):
    generator = torch.Generator().manual_seed(0)
    cell = cell_size * torch.tensor([[1.0, 0.0, 0.0], [0.3, 1.0, 0.0], [-0.2, 0.1, 0.9]], dtype=torch.float64)
    pos = torch.rand(12, 3, generator=generator, dtype=torch.float64) @ cell
    pbc = torch.tensor([True, True, False])
    skin_list = SkinNeighborList(cutoff=2.5, skin=1.0)
    for step in range(6):
        edge_index, edge_shift, length = skin_list(pos, cell, pbc)
        fresh_index, fresh_shift = neighbor_list(pos, 2.5, cell, pbc)
        assert torch.equal(edge_index, fresh_index) and torch.equal(edge_shift, fresh_shift), f"step {step}"
        vec = pos[edge_index[1]] - pos[edge_index[0]] + edge_shift @ cell
        torch.testing.assert_close(length, vec.norm(dim=1), rtol=0, atol=1e-12)
        pos = pos + 0.08 * (torch.rand(pos.shape, generator=generator, dtype=torch.float64) - 0.5)
    assert skin_list.builds == 1  # each atom moved at most 6 * 0.07 < 0.5 A
    pos[3] += torch.tensor([0.6, 0.0, 0.0], dtype=torch.float64)
    edge_index, edge_shift, _ = skin_list(pos, cell, pbc)
    assert skin_list.builds == 2
    assert torch.equal(edge_index, neighbor_list(pos, 2.5, cell, pbc)[0])


def test_zero_skin_rebuilds_every_call_and_bad_skin_is_refused():
    pos, cell, pbc = torch.rand(5, 3) * 3, torch.eye(3) * 3, torch.tensor([True] * 3)
    skin_list = SkinNeighborList(cutoff=2.0, skin=0.0)
    skin_list(pos, cell, pbc)
    skin_list(pos, cell, pbc)
    assert skin_list.builds == 2
    with pytest.raises(ValueError, match="skin must be a finite number >= 0"):
        SkinNeighborList(cutoff=2.0, skin=-1.0)
