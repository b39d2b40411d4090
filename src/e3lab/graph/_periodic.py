"""``neighbor_list``: edges within a cutoff in a periodic (or partly periodic, or open) cell.

Edge ``j -> i`` (``edge_index[0] = j`` source, ``edge_index[1] = i`` target) with integer shift ``S`` exists
when ``|pos[i] - pos[j] + S @ cell| < cutoff`` (strict), for every ``S`` whose components along non-periodic
axes are zero, except the self edge ``i == j, S == 0``. Self-image edges (``i == j``, ``S != 0``) are kept.
The source's image sits at ``pos[j] - S @ cell``. Compared with ``ase.neighborlist.neighbor_list("ijSD")``:
the edge ``j -> i`` with shift ``S`` is ASE's pair ``(i, j, -S)`` and its vector is ASE's ``-D``.

How: positions are wrapped into the cell along periodic axes (integer offsets remembered, so unwrapped
input is fine), and each atom is replicated at the lattice translations that can bring it within the
cutoff of the cell (several images per atom when the cell is smaller than twice the cutoff). A cubic
bin grid of side ``cutoff / 2`` over the images then pairs every atom with the images in the 5x5x5
bins around it (25 contiguous runs of the bin-sorted images): linear in the number of atoms, in blocks
of bounded size. Triclinic cells need nothing special,
because images are explicit points. The final distance test uses ``pos[i] - pos[j] + S @ cell`` in
``pos``'s dtype, the vector the model computes, and edges are sorted by (target, source, shift), so the
graph does not depend on the search order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["neighbor_list"]

_AXES = ("a (cell[0])", "b (cell[1])", "c (cell[2])")
# candidate search radius = cutoff * (1 + _PAD): pairs at the cutoff survive rounding of the wrapped
# positions (float64) and reach the exact test in pos's dtype
_PAD = 1e-4
# a cell whose smallest singular value is below this fraction of its largest is singular
_SINGULAR = 1e-8
# refuse to build more images than this (a tiny cell with a huge cutoff)
_MAX_IMAGES = 50_000_000
# about this many candidate pairs are held in memory at once
_BLOCK = 1 << 22
# bins are cubes of side cutoff / _SUBDIV; a point's neighbourhood is (2 * _SUBDIV + 1)**3 bins, scanned
# as (2 * _SUBDIV + 1)**2 columns of consecutive z bins (fewer candidates than 27 bins of side cutoff)
_SUBDIV = 2
_COLUMNS = torch.tensor(list(itertools.product(range(-_SUBDIV, _SUBDIV + 1), repeat=2)))  # [25, 2]


def _check_pos_cutoff(pos: Tensor, cutoff: float) -> None:
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.shape[1] != 3:
        shape = tuple(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ValueError(f"pos must be a [n, 3] tensor, got {shape}")
    if not pos.is_floating_point():
        raise TypeError(f"pos must be floating point, got {pos.dtype}; convert it with pos.double()")
    bad = (~torch.isfinite(pos).all(dim=1)).nonzero().flatten()
    if bad.numel():
        raise ValueError(
            f"pos has {bad.numel()} atom(s) with NaN or Inf coordinates (first: atom {int(bad[0])}); "
            "fix or remove them"
        )
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff < float("inf"):
        raise ValueError(f"cutoff must be a finite number > 0, got {cutoff!r}")


def _as_pbc(pbc: Tensor | Sequence[bool] | bool | None, device: torch.device) -> Tensor:
    if pbc is None:
        pbc = (False, False, False)
    elif isinstance(pbc, bool):
        pbc = (pbc, pbc, pbc)
    pbc = torch.as_tensor(pbc, device=device).flatten()
    if pbc.numel() != 3:
        raise ValueError(f"pbc must have 3 entries (one per cell vector), got {pbc.tolist()}")
    return pbc.bool()


def _check_cell(cell: Tensor | None, pbc: Tensor, pos: Tensor) -> Tensor:
    """The cell as a float64 [3, 3] tensor on pos's device (zeros when None), checked against pbc."""
    if cell is None:
        if bool(pbc.any()):
            raise ValueError(f"pbc={pbc.tolist()} is periodic but no cell was given; pass cell=[3, 3]")
        return torch.zeros(3, 3, dtype=torch.float64, device=pos.device)
    cell = torch.as_tensor(cell, device=pos.device)
    if cell.shape != (3, 3):
        raise ValueError(f"cell must have shape [3, 3] (lattice vectors as rows), got {tuple(cell.shape)}")
    cell = cell.to(torch.float64)
    if not bool(torch.isfinite(cell).all()):
        raise ValueError(f"cell has NaN or Inf entries: {cell.tolist()}")
    for k in range(3):
        if bool(pbc[k]) and not bool(cell[k].any()):
            raise ValueError(
                f"pbc[{k}] is True but cell vector {_AXES[k]} is zero; give that lattice vector or set "
                f"pbc[{k}]=False (e.g. a slab with vacuum along that axis)"
            )
    periodic = cell[pbc]
    if periodic.shape[0]:
        sv = torch.linalg.svdvals(periodic)
        if float(sv[-1]) <= _SINGULAR * float(sv[0]):
            raise ValueError(
                f"the periodic cell vectors {periodic.tolist()} (pbc={pbc.tolist()}) are linearly dependent "
                "(singular cell); give independent lattice vectors or set pbc False along the degenerate axis"
            )
    return cell


def _search_basis(cell: Tensor, pbc: Tensor) -> Tensor:
    """[3, 3] basis: the periodic cell vectors, non-periodic ones replaced by their orthonormal complement."""
    basis = cell.clone()
    free = (~pbc).nonzero().flatten()
    if free.numel():
        periodic = cell[pbc]
        if periodic.shape[0]:
            complement = torch.linalg.svd(periodic, full_matrices=True).Vh[periodic.shape[0] :]
        else:
            complement = torch.eye(3, dtype=cell.dtype, device=cell.device)
        basis[free] = complement
    return basis


def _images(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Wrapped positions and the images that can reach the cell.

    Returns ``offset [n, 3]`` (long; ``pos - offset @ cell`` is wrapped), ``image_pos [m, 3]`` (float64),
    ``image_atom [m]`` and ``image_shift [m, 3]`` (long; image = wrapped ``pos[atom] + shift @ cell``).
    """
    n = pos.shape[0]
    if not bool(pbc.any()):
        atoms = torch.arange(n, device=pos.device)
        zeros = torch.zeros(n, 3, dtype=torch.long, device=pos.device)
        return zeros, pos, atoms, zeros
    basis = _search_basis(cell, pbc)
    inverse = torch.linalg.inv(basis)
    frac = pos @ inverse  # [n, 3]
    offset = torch.where(pbc, torch.floor(frac), 0).long()
    wrapped_frac = frac - offset
    # reach[k]: lattice planes along k closer together than the cutoff need this many images each way
    reach = cutoff * (1 + _PAD) * torch.linalg.vector_norm(inverse, dim=0)  # [3], = cutoff / plane spacing
    count = torch.where(pbc, torch.ceil(reach), 0).long().tolist()
    num_shifts = (2 * count[0] + 1) * (2 * count[1] + 1) * (2 * count[2] + 1)
    if num_shifts * n > _MAX_IMAGES:
        raise ValueError(
            f"the cell {cell.tolist()} is so small for cutoff={cutoff} that {num_shifts} periodic images "
            f"per atom are needed; use a larger cell (repeat it) or a smaller cutoff"
        )
    ranges = [torch.arange(-c, c + 1, device=pos.device) for c in count]
    shifts = torch.cartesian_prod(*ranges).reshape(-1, 3)  # [K, 3]
    image_frac = wrapped_frac[None] + shifts[:, None].to(pos.dtype)  # [K, n, 3]
    near = (image_frac > -reach) & (image_frac < 1 + reach)
    keep = (near | ~pbc).all(dim=-1)  # [K, n]
    shift_id, atom = keep.nonzero(as_tuple=True)
    image_shift = shifts[shift_id]
    image_pos = (wrapped_frac[atom] + image_shift.to(pos.dtype)) @ basis
    return offset, image_pos, atom, image_shift


def _lookup(table: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """Rank of ``query`` values in the sorted unique ``table`` and whether they are present."""
    rank = torch.searchsorted(table, query.contiguous()).clamp_(max=table.numel() - 1)
    return rank, table[rank] == query


def _candidate_ranges(targets: Tensor, sources: Tensor, side: float) -> tuple[Tensor, Tensor, Tensor]:
    """Sources sorted by bin, and per target the ranges of sorted sources in its neighbourhood.

    Bins are cubes of side ``side = radius / _SUBDIV``; sources sorted by (x, y, z) bin, so that the
    bins ``z - _SUBDIV .. z + _SUBDIV`` of one (x, y) column are one contiguous range. Bin coordinates
    are compressed to ranks per axis (keys stay small whatever the coordinates' spread).

    Returns ``order [m]`` (sorted position -> source), ``first, length: [n, (2 * _SUBDIV + 1)**2]``.
    """
    origin = sources.amin(dim=0)
    src_bin = torch.floor((sources - origin) / side).long()
    tgt_bin = torch.floor((targets - origin) / side).long()
    axes = [torch.unique(src_bin[:, d]) for d in range(3)]
    size = [a.numel() for a in axes]
    rank = [torch.searchsorted(axes[d], src_bin[:, d].contiguous()) for d in range(3)]
    keys, order = torch.sort((rank[0] * size[1] + rank[1]) * size[2] + rank[2])
    z_low = torch.searchsorted(axes[2], (tgt_bin[:, 2] - _SUBDIV).contiguous())
    z_high = torch.searchsorted(axes[2], (tgt_bin[:, 2] + _SUBDIV).contiguous(), right=True)
    columns = tgt_bin[:, None, :2] + _COLUMNS.to(tgt_bin.device)  # [n, C, 2]
    rank_x, found_x = _lookup(axes[0], columns[..., 0])
    rank_y, found_y = _lookup(axes[1], columns[..., 1])
    base = (rank_x * size[1] + rank_y) * size[2]
    first = torch.searchsorted(keys, base + z_low[:, None])
    last = torch.searchsorted(keys, base + z_high[:, None])
    length = torch.where(found_x & found_y, last - first, 0)
    return order, first, length


def _pairs_within(targets: Tensor, sources: Tensor, radius: float) -> tuple[Tensor, Tensor]:
    """All ``(t, s)`` with ``|targets[t] - sources[s]| < radius``; targets [n, 3], sources [m, 3] float64."""
    order, first, length = _candidate_ranges(targets, sources, radius / _SUBDIV)
    xs, ys, zs = sources[order].t().contiguous()
    xt, yt, zt = targets.t().contiguous()
    # blocks of targets holding about _BLOCK candidate pairs each
    ends = torch.cumsum(length.sum(dim=1), 0)
    total = int(ends[-1]) if ends.numel() else 0
    steps = torch.arange(1, max(total - 1, 0) // _BLOCK + 1, device=ends.device) * _BLOCK
    bounds = sorted({0, *torch.searchsorted(ends, steps, right=True).tolist(), targets.shape[0]})
    found_t, found_s = [], []
    for lo, hi in itertools.pairwise(bounds):
        sizes = length[lo:hi].flatten()
        block_total = int(sizes.sum())
        row = torch.repeat_interleave(torch.arange(sizes.numel(), device=sizes.device), sizes)
        within = torch.arange(block_total, device=sizes.device) - (torch.cumsum(sizes, 0) - sizes)[row]
        s = first[lo:hi].flatten()[row] + within  # sorted positions
        t = lo + torch.div(row, _COLUMNS.shape[0], rounding_mode="floor")
        d = xt[t] - xs[s]
        dist2 = d * d
        d = yt[t] - ys[s]
        dist2 += d * d
        d = zt[t] - zs[s]
        dist2 += d * d
        close = dist2 < radius * radius
        found_t.append(t[close])
        found_s.append(order[s[close]])
    return torch.cat(found_t), torch.cat(found_s)


def _canonical_order(target: Tensor, source: Tensor, shift: Tensor, n: int) -> Tensor:
    """Permutation sorting edges by (target, source, shift) lexicographically."""
    if shift.numel() == 0:
        return torch.arange(0, device=target.device)
    span = int(shift.abs().max()) + 1
    code = ((shift[:, 0] + span) * (2 * span + 1) + shift[:, 1] + span) * (2 * span + 1) + shift[:, 2] + span
    order = torch.argsort(code, stable=True)
    return order[torch.argsort((target * n + source)[order], stable=True)]


def neighbor_list(
    pos: Tensor,
    cutoff: float,
    cell: Tensor | None = None,
    pbc: Tensor | Sequence[bool] | None = None,
) -> tuple[Tensor, Tensor]:
    """Edges ``j -> i`` closer than ``cutoff``, with periodic images.

    Args:
        pos: [n, 3] Cartesian positions (float32 or float64); need not be wrapped into the cell.
        cutoff: radius (strict: ``|r| < cutoff``).
        cell: [3, 3] lattice vectors as rows; may be None (or zero) when no axis is periodic.
        pbc: [3] bools, periodic along each lattice vector; None or all False: a plain radius graph.

    Returns:
        ``edge_index [2, e]`` int64 (source j, target i) and ``edge_shift [e, 3]`` integer shifts in
        ``pos``'s dtype, sorted by (target, source, shift), such that the edge vector
        ``pos[i] - pos[j] + edge_shift @ cell`` is shorter than ``cutoff``. Every image of a neighbour
        within the cutoff is its own edge (cells smaller than twice the cutoff), self-images included.

    Raises:
        ValueError: NaN/Inf positions, a non-positive cutoff, a periodic axis without a cell or with a
        zero cell vector, a singular cell, or a cell so small that the images would not fit in memory.
    """
    _check_pos_cutoff(pos, cutoff)
    pbc = _as_pbc(pbc, pos.device)
    cell64 = _check_cell(cell, pbc, pos)
    n = pos.shape[0]
    empty = torch.zeros(2, 0, dtype=torch.long, device=pos.device)
    if n == 0:
        return empty, torch.zeros(0, 3, dtype=pos.dtype, device=pos.device)
    pos64 = pos.detach().to(torch.float64)
    offset, image_pos, image_atom, image_shift = _images(pos64, cell64, pbc, cutoff)
    wrapped = pos64 - offset.to(torch.float64) @ cell64
    target, image = _pairs_within(wrapped, image_pos, cutoff * (1 + _PAD))
    source = image_atom[image]
    shift = offset[source] - offset[target] - image_shift[image]  # [e, 3] long
    not_self = (source != target) | shift.any(dim=1)
    target, source, shift = target[not_self], source[not_self], shift[not_self]
    # the exact test, on the vector the model computes
    cell_t = cell64.to(pos.dtype)
    vec = pos.detach()[target] - pos.detach()[source] + shift.to(pos.dtype) @ cell_t
    inside = torch.linalg.vector_norm(vec, dim=1) < cutoff
    target, source, shift = target[inside], source[inside], shift[inside]
    order = _canonical_order(target, source, shift, n)
    edge_index = torch.stack([source[order], target[order]]) if order.numel() else empty
    return edge_index, shift[order].to(pos.dtype)
