"""The lowest loss a symmetry-respecting model can reach: project the target onto the G-invariant subspace.

For a symmetry ``(R, perm)`` of the input, every equivariant model satisfies ``f_{perm[i]} = D_out(R) f_i``.
The outputs that obey this for the whole group form a linear subspace; because ``D_out(R)`` is orthogonal,
the group average ``P(t)_i = 1/|G| sum_g D_out(R_g)^-1 t_{perm_g[i]}`` is the orthogonal projection onto it,
so ``MSE(t, P(t))`` is the smallest mean squared error any such model can reach.
"""

from __future__ import annotations

import torch

from e3lab.o3 import Irreps
from e3lab.symmetry._group import Symmetry, symmetry_group


def project_invariant(target: torch.Tensor, group: list[Symmetry], irreps_out: Irreps | str) -> torch.Tensor:
    """Project per-node targets onto the outputs allowed by the symmetry group.

    Args:
        target: ``[N, irreps_out.dim]`` per-node targets.
        group: the symmetries of the input (from :func:`symmetry_group`).
        irreps_out: irreps of ``target``.

    Returns:
        ``[N, irreps_out.dim]`` projection, in ``target``'s dtype.
    """
    irreps_out = Irreps(irreps_out)
    if not group:
        raise ValueError("group is empty; it must contain at least the identity (see symmetry_group)")
    if target.ndim != 2 or target.shape[1] != irreps_out.dim:
        raise ValueError(
            f"target must have shape [N, irreps_out.dim] = [N, {irreps_out.dim}] for irreps_out "
            f"{irreps_out}, got {list(target.shape)}"
        )
    t = target.detach().to(torch.float64)
    total = torch.zeros_like(t)
    for g in group:
        D = irreps_out.D_from_matrix(g.matrix.to(torch.float64))
        # D^-1 = D^T for the orthogonal D_out, applied on the right as t @ D.
        total += t[g.perm] @ D
    return (total / len(group)).to(target.dtype)


def loss_floor(
    pos: torch.Tensor,
    x: torch.Tensor,
    target: torch.Tensor,
    irreps_in: Irreps | str,
    irreps_out: Irreps | str,
    tol: float = 1e-6,
) -> float:
    """Lowest MSE (mean over nodes and components) that a model respecting the input's symmetry can reach.

    Args:
        pos: ``[N, 3]`` positions of one graph.
        x: ``[N, irreps_in.dim]`` input node features.
        target: ``[N, irreps_out.dim]`` per-node targets.
        irreps_in: irreps of ``x``.
        irreps_out: irreps of ``target``.
        tol: tolerance used to detect symmetries.

    Returns:
        ``MSE(target, project_invariant(target))``: 0 when the target respects the input's symmetry.
    """
    group = symmetry_group(pos, x, irreps_in, tol=tol)
    t = target.detach().to(torch.float64)
    return float((t - project_invariant(t, group, irreps_out)).pow(2).mean())
