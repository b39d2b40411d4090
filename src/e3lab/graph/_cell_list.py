"""Native radius neighbour search: a cell list in pure torch (CPU and CUDA).

Space is cut into cubic cells of side slightly larger than ``r``, so two points closer than ``r``
sit in the same cell or in one of its 26 neighbours. Points are sorted by cell; each unordered pair
is tested once (the later points of a point's own cell and the points of 13 "half shell" neighbour
cells), then mirrored. Candidates are generated in blocks of about ``block_size`` pairs, so memory
stays bounded (no ``N x N`` matrix). Occupied cells are found by sorting and ``searchsorted`` on
compressed coordinates, so a sparse cloud with huge coordinates costs no more than a dense one.
The distance test is done in ``pos``'s dtype, as torch_cluster does.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

# the cell side is r * (1 + _CELL_PAD): a pair accepted by the rounded distance test always lies in
# neighbouring cells, even when the cell coordinate itself is rounded.
_CELL_PAD = 1e-5
# the half shell: offsets after (0, 0, 0) in lexicographic order; with their negatives, all 26 others
_OFFSETS = [o for o in itertools.product((-1, 0, 1), repeat=3) if o > (0, 0, 0)]


def _lookup(table: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """Position of ``query`` values in the sorted unique ``table`` and whether they are present."""
    where = torch.searchsorted(table, query).clamp_(max=table.numel() - 1)
    return where, table[where] == query


class _Cells:
    """Points sorted by cell, and for each occupied cell the ids of its 13 half-shell neighbour cells.

    Cell keys are built in three steps (graph and x, then y, then z), each compressed to a rank
    with ``unique``, so every key stays below ``N**2`` whatever the coordinate range.
    """

    def __init__(self, pos: Tensor, batch: Tensor, cell: float) -> None:
        coords = torch.floor((pos - pos.amin(dim=0)) / cell).long()  # [N, 3]
        columns = coords.t().contiguous()  # [3, N]
        self.axes = [torch.unique(columns[d]) for d in range(3)]
        ranks = [torch.searchsorted(self.axes[d], columns[d]) for d in range(3)]
        self.graph = torch.unique(batch, return_inverse=True)[1]  # graph ids compressed to 0..B-1
        self.tables: list[Tensor] = []
        key = self.graph
        for d in range(3):
            table, key = torch.unique(key * self.axes[d].numel() + ranks[d], return_inverse=True)
            self.tables.append(table)
        # key: [N] cell id in 0..M-1, ordered by (graph, x, y, z)
        self.order = torch.argsort(key, stable=True)  # sorted position -> original index
        self.cell_of_sorted = key[self.order]
        num_cells = self.tables[2].numel()
        self.count = torch.bincount(key, minlength=num_cells)
        self.start = torch.cumsum(self.count, 0) - self.count
        rep = self.order[self.start]  # one point (original index) per cell
        self.neighbours = self._neighbour_cells(self.graph[rep], coords[rep])  # [M, 13]

    def _neighbour_cells(self, graph: Tensor, coords: Tensor) -> Tensor:
        """For cells given by ``graph [M]`` and ``coords [M, 3]``: ``[M, 13]`` neighbour ids, -1 if empty."""
        out = []
        for offset in _OFFSETS:
            key = graph
            found = torch.ones_like(graph, dtype=torch.bool)
            for d in range(3):
                rank, ok = _lookup(self.axes[d], coords[:, d] + offset[d])
                found &= ok
                key, ok = _lookup(self.tables[d], key * self.axes[d].numel() + rank)
                found &= ok
            out.append(torch.where(found, key, -1))
        return torch.stack(out, dim=1)


def _candidate_ranges(cells: _Cells) -> tuple[Tensor, Tensor]:
    """Per sorted point, 14 ranges of sorted positions to test as partners: ``start, length: [N, 14]``.

    Range 0 is the rest of the point's own cell (positions after it), ranges 1..13 the half shell of
    neighbour cells, so every unordered pair of points is a candidate exactly once.
    """
    position = torch.arange(cells.cell_of_sorted.numel(), device=cells.count.device)
    own_end = (cells.start + cells.count)[cells.cell_of_sorted]
    nb = cells.neighbours[cells.cell_of_sorted]  # [N, 13]
    present = nb >= 0
    nb = nb.clamp(min=0)
    start = torch.cat([(position + 1)[:, None], cells.start[nb]], dim=1)
    length = torch.cat([(own_end - position - 1)[:, None], torch.where(present, cells.count[nb], 0)], dim=1)
    return start, length


def _pairs_in_block(start: Tensor, length: Tensor, lo: int, hi: int) -> tuple[Tensor, Tensor]:
    """Candidate pairs ``(partner, point)`` (sorted positions) for the points ``lo <= point < hi``."""
    n = length[lo:hi].flatten()
    total = int(n.sum())
    row = torch.repeat_interleave(torch.arange(n.numel(), device=n.device), n, output_size=total)
    within = torch.arange(total, device=n.device) - (torch.cumsum(n, 0) - n)[row]
    partner = start[lo:hi].flatten()[row] + within
    point = lo + torch.div(row, start.shape[1], rounding_mode="floor")
    return partner, point


def _nearest_k(source: Tensor, target: Tensor, dist2: Tensor, k: int, num_nodes: int) -> Tensor:
    """Mask keeping, for each target, the ``k`` candidates with smallest ``dist2`` (ties: lower source)."""
    counts = torch.bincount(target, minlength=num_nodes)
    crowded = (counts > k)[target].nonzero().squeeze(1)  # only targets over the limit need sorting
    order = crowded[torch.argsort(target[crowded] * num_nodes + source[crowded])]
    order = order[torch.argsort(dist2[order], stable=True)]
    order = order[torch.argsort(target[order], stable=True)]
    sorted_target = target[order]
    first = torch.searchsorted(sorted_target, sorted_target)  # start of each target's run in `order`
    keep = torch.ones_like(source, dtype=torch.bool)
    keep[order] = torch.arange(order.numel(), device=order.device) - first < k
    return keep


def radius_graph_native(
    pos: Tensor,
    r: float,
    batch: Tensor,
    loop: bool,
    max_num_neighbors: int,
    block_size: int = 1 << 21,
) -> Tensor:
    """Edges ``[2, E]`` = (source j, target i) with ``|pos_i - pos_j| < r`` inside a graph, sorted by (i, j).

    pos: [N, 3] finite, N > 0; batch: [N] sorted graph index. For each target at most
    ``max_num_neighbors`` sources are kept: the nearest ones (ties broken by lower source index).
    ``block_size`` bounds the number of candidate pairs held at once.
    """
    num_nodes = pos.shape[0]
    cells = _Cells(pos.detach().double(), batch, r * (1 + _CELL_PAD))
    start, length = _candidate_ranges(cells)
    # split the sorted points into blocks of about block_size candidate pairs (one point minimum)
    ends = torch.cumsum(length.sum(1), 0)
    steps = torch.arange(1, max(int(ends[-1]) - 1, 0) // block_size + 1, device=pos.device) * block_size
    cuts = torch.searchsorted(ends, steps, right=True)
    bounds = torch.unique(torch.cat([cuts.new_zeros(1), cuts, cuts.new_tensor([num_nodes])])).tolist()
    r2 = r * r
    firsts, seconds, dists = [], [], []
    for lo, hi in itertools.pairwise(bounds):
        a, b = _pairs_in_block(start, length, lo, hi)
        a, b = cells.order[a], cells.order[b]
        dist2 = squared_distances(pos, a, b)
        keep = dist2 < r2
        firsts.append(a[keep])
        seconds.append(b[keep])
        dists.append(dist2[keep])
    first, second, dist2 = torch.cat(firsts), torch.cat(seconds), torch.cat(dists)
    source, target, dist2 = torch.cat([first, second]), torch.cat([second, first]), torch.cat([dist2, dist2])
    if loop:
        nodes = torch.arange(num_nodes, device=pos.device)
        source, target = torch.cat([source, nodes]), torch.cat([target, nodes])
        dist2 = torch.cat([dist2, dist2.new_zeros(num_nodes)])
    return canonical_edges(source, target, dist2, max_num_neighbors, num_nodes)


def squared_distances(pos: Tensor, source: Tensor, target: Tensor) -> Tensor:
    """``|pos[target] - pos[source]|^2`` per edge, in ``pos``'s dtype, summed x, then y, then z.

    The one formula both backends decide edges with, so they agree bit for bit on pairs near the cutoff.
    """
    x, y, z = pos.detach().t().contiguous()
    d = x[source] - x[target]
    dist2 = d * d
    d = y[source] - y[target]
    dist2 += d * d
    d = z[source] - z[target]
    dist2 += d * d
    return dist2


def canonical_edges(
    source: Tensor, target: Tensor, dist2: Tensor, max_num_neighbors: int, num_nodes: int
) -> Tensor:
    """The canonical radius graph from all edges within the cutoff: ``[2, E]`` (source, target).

    Each target keeps its ``max_num_neighbors`` nearest sources (ties: lower source index), and the
    edges are sorted by target, then source: the same graph whichever backend found the candidates.
    """
    if source.numel() > 0 and int(torch.bincount(target).max()) > max_num_neighbors:
        keep = _nearest_k(source, target, dist2, max_num_neighbors, num_nodes)
        source, target = source[keep], target[keep]
    order = torch.argsort(target * num_nodes + source)
    return torch.stack([source[order], target[order]])
