"""A neighbour list with a skin (Verlet list): rebuilt only when an atom has moved more than half the skin.

The list is built with radius ``cutoff + skin`` and filtered to ``cutoff`` at every call, on the current
positions and cell. While no atom has moved more than ``skin / 2`` since the build, every pair now closer
than ``cutoff`` was closer than ``cutoff + skin`` then (each of the two atoms moved at most ``skin / 2``),
so the filtered edges are exactly those of a fresh :func:`e3lab.graph.neighbor_list` with ``cutoff``: the
same edges with the same cell shifts, in the same (target, source, shift) order, tested on the same vector
``pos[i] - pos[j] + edge_shift @ cell`` in ``pos``'s dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from e3lab.graph import neighbor_list

__all__ = ["SkinNeighborList"]


class SkinNeighborList:
    """Edges within ``cutoff`` of a structure whose atoms move a little between calls (MD, relaxations).

    Args:
        cutoff: the model's radius (A); edges are strictly shorter.
        skin: extra radius of the stored list (A), >= 0. 0 rebuilds at every call.

    Attributes:
        builds: how many times the list was built (for tests and diagnostics).
    """

    def __init__(self, cutoff: float, skin: float = 1.0) -> None:
        if isinstance(skin, bool) or not isinstance(skin, (int, float)) or not 0 <= skin < float("inf"):
            raise ValueError(f"skin must be a finite number >= 0 (A), got {skin!r}")
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.builds = 0
        self._reference: tuple[Tensor, Tensor, Tensor] | None = None  # pos, cell, pbc at the build
        self._edge_index = torch.zeros(2, 0, dtype=torch.long)
        self._edge_shift = torch.zeros(0, 3)

    def needs_rebuild(self, pos: Tensor, cell: Tensor, pbc: Tensor) -> bool:
        """True when the stored list may miss an edge: new atoms, a changed cell or pbc, or a large move."""
        if self._reference is None:
            return True
        ref_pos, ref_cell, ref_pbc = self._reference
        if pos.shape != ref_pos.shape or pos.dtype != ref_pos.dtype or pos.device != ref_pos.device:
            return True
        if not torch.equal(cell, ref_cell) or not torch.equal(pbc, ref_pbc):
            return True
        if self.skin == 0:
            return True
        moved = torch.linalg.vector_norm(pos - ref_pos, dim=1).max() if pos.shape[0] else pos.new_zeros(())
        return bool(moved > 0.5 * self.skin)

    def __call__(self, pos: Tensor, cell: Tensor, pbc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Edges of ``pos`` within the cutoff.

        Args:
            pos: [n, 3] positions; cell: [3, 3] lattice vectors as rows (same dtype); pbc: [3] bool.

        Returns:
            ``edge_index [2, e]`` (source j, target i), ``edge_shift [e, 3]`` (``pos``'s dtype) and the
            edge lengths ``[e]``, equal to those of ``neighbor_list(pos, cutoff, cell, pbc)``.
        """
        if self.needs_rebuild(pos, cell, pbc):
            self._edge_index, self._edge_shift = neighbor_list(pos, self.cutoff + self.skin, cell, pbc)
            self._reference = (pos.detach().clone(), cell.detach().clone(), pbc.clone())
            self.builds += 1
        src, dst = self._edge_index
        # the same expression as neighbor_list's exact test, so the kept edges are the same
        vec = pos[dst] - pos[src] + self._edge_shift @ cell.to(torch.float64).to(pos.dtype)
        length = torch.linalg.vector_norm(vec, dim=1)
        inside = length < self.cutoff
        return self._edge_index[:, inside], self._edge_shift[inside], length[inside]
