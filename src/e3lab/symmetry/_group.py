"""The symmetry group of a point cloud with node features.

A symmetry is an element ``g`` of O(3), acting about the centroid, together with the node permutation it
induces, such that ``g`` maps every position onto a position and every node's input features onto the
features of its image: ``R (pos_i - c) = pos_{perm[i]} - c`` and ``D_in(R) x_i = x_{perm[i]}``.
An equivariant network ``f`` (translation invariant, built from relative positions) then obeys
``f_{perm[i]} = D_out(R) f_i`` for every symmetry, whatever its weights.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from e3lab.o3 import Irreps


@dataclass(frozen=True)
class Symmetry:
    """One element of a symmetry group.

    Attributes:
        matrix: ``[3, 3]`` orthogonal matrix (det +1 or -1) acting on centred positions.
        perm: ``[N]`` long tensor, ``perm[i]`` is the node that node ``i`` is mapped onto.
    """

    matrix: torch.Tensor
    perm: torch.Tensor


def _match(points: torch.Tensor, images: torch.Tensor, tol: float) -> torch.Tensor | None:
    """Permutation ``perm`` with ``images[i] == points[perm[i]]`` within ``tol``, or ``None``."""
    dist = torch.cdist(images, points)
    nearest = dist.argmin(dim=1)
    if dist.gather(1, nearest[:, None]).max() > tol:
        return None
    if torch.unique(nearest).numel() != len(points):
        return None
    return nearest


def _reference_pair(pos: torch.Tensor, tol: float) -> tuple[int, int]:
    """Two nodes whose centred positions are linearly independent (largest norm, then largest area)."""
    norms = pos.norm(dim=1)
    a = int(norms.argmax())
    area = torch.linalg.cross(pos[a].expand_as(pos), pos, dim=1).norm(dim=1)
    b = int(area.argmax())
    if norms[a] <= tol or area[b] <= tol * max(float(norms[a]), 1.0):
        raise ValueError(
            f"the {len(pos)} positions are collinear (or a single point): their symmetry group is continuous "
            "(rotations about the line), so it cannot be enumerated; give at least three non-collinear points"
        )
    return a, b


def _candidate_pairs(pos: torch.Tensor, a: int, b: int, tol: float) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i != j``, that could be the images of ``(a, b)``: the same norms and dot product.

    A loose prefilter (the exact test is the orthogonality of the map), so that generic point clouds cost
    ``O(n)`` candidates instead of ``n^2``.
    """
    scale = max(float(pos.norm(dim=1).max()), 1.0)
    slack = max(1e-3, 100 * tol) * scale**2
    norms2 = (pos * pos).sum(dim=1)
    first = ((norms2 - norms2[a]).abs() <= slack).nonzero()[:, 0]
    second = ((norms2 - norms2[b]).abs() <= slack).nonzero()[:, 0]
    dots = pos[first] @ pos[second].T
    ok = ((dots - pos[a] @ pos[b]).abs() <= slack) & (first[:, None] != second[None, :])
    return [(int(first[k]), int(second[m])) for k, m in ok.nonzero().tolist()]


def _frame(u: torch.Tensor, v: torch.Tensor, sign: float) -> torch.Tensor:
    """``[3, 3]`` matrix with columns ``u``, ``v`` and ``sign * u x v``."""
    return torch.stack([u, v, sign * torch.linalg.cross(u, v, dim=0)], dim=1)


def symmetry_group(
    pos: torch.Tensor, x: torch.Tensor, irreps_in: Irreps | str, tol: float = 1e-6
) -> list[Symmetry]:
    """All O(3) symmetries of one point cloud with node features.

    Every symmetry is fixed by where it sends two independent reference points ``a`` and ``b`` (and by the
    sign it gives ``a x b``), so the candidates are the ordered pairs of nodes with the right norms and
    angle, each tried as a proper and as an improper map; a candidate is kept when it maps the positions
    onto themselves and the features onto the features of the image nodes.

    Args:
        pos: ``[N, 3]`` positions (the group acts about their centroid).
        x: ``[N, irreps_in.dim]`` node features.
        irreps_in: irreps of ``x``.
        tol: absolute tolerance on positions and features (computed in float64).

    Returns:
        The group elements, the identity first.
    """
    irreps_in = Irreps(irreps_in)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must have shape [N, 3], got {list(pos.shape)}")
    if x.shape != (pos.shape[0], irreps_in.dim):
        raise ValueError(
            f"x must have shape [N, irreps_in.dim] = [{pos.shape[0]}, {irreps_in.dim}] for irreps_in "
            f"{irreps_in}, got {list(x.shape)}"
        )
    pos = pos.detach().to(torch.float64)
    x = x.detach().to(torch.float64)
    pos = pos - pos.mean(dim=0)
    a, b = _reference_pair(pos, tol)
    source_inv = torch.linalg.inv(_frame(pos[a], pos[b], 1.0))

    group: list[Symmetry] = []
    for (i, j), sign in itertools.product(_candidate_pairs(pos, a, b, tol), (1.0, -1.0)):
        R = _frame(pos[i], pos[j], sign) @ source_inv
        if not torch.allclose(R @ R.T, torch.eye(3, dtype=R.dtype), atol=1e-8 + tol):
            continue
        perm = _match(pos, pos @ R.T, tol)
        if perm is None:
            continue
        D = irreps_in.D_from_matrix(R)
        if x.numel() and (x[perm] - x @ D.T).abs().max() > tol:
            continue
        group.append(Symmetry(matrix=R, perm=perm))
    group.sort(key=lambda g: float((g.matrix - torch.eye(3, dtype=g.matrix.dtype)).abs().sum()))
    return group
