"""Input features that break a geometry's symmetry group ``G`` down to the target's group ``H``.

A feature ``u: [N, 2l+1]`` of irrep ``(l, p)`` added to the inputs leaves the symmetries ``g`` of ``G``
with ``u_{perm_g[i]} = D(g) u_i``: its stabilizer. The floor vanishes when that stabilizer lies inside
``H``. Every ``H``-equivariant feature (the image of the group average over ``H``) is fixed by ``H``; a
generic one is fixed by nothing more when any is, so a seeded random feature, averaged over ``H`` with its
``G``-invariant part removed, decides whether ``(l, p)`` can break ``G`` down to ``H``. A *global* feature
is the same vector on every node (an external field, like the symmetry-breaking tutorial's x^2 - y^2 input);
a *per-node* feature may differ from node to node.

The proposed value comes from the target when it can: the residual of the target's own ``(l, p)`` block
(per-node), or a moment ``sum_i (t_i ⊗ Y^{l2}(r_i)) -> (l, p)`` of the target (global); otherwise the
generic feature, i.e. a harmonic invariant under ``H`` and not under ``G``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from e3lab.o3 import Irrep, Irreps, spherical_harmonics, wigner_3j
from e3lab.symmetry._group import Symmetry

__all__ = ["Breaker", "breakers", "stabilizer"]

KINDS = ("global", "per-node")


@dataclass(frozen=True)
class Breaker:
    """A feature that breaks ``G`` down to ``H``.

    Attributes:
        kind: ``"global"`` (the same value on every node) or ``"per-node"``.
        irrep: its irrep ``(l, p)``.
        value: ``[2l+1]`` for a global feature, ``[N, 2l+1]`` per node (float64).
        source: how the value was built.
    """

    kind: str
    irrep: Irrep
    value: torch.Tensor
    source: str

    def node_values(self, num_nodes: int) -> torch.Tensor:
        """``[N, 2l+1]``: the feature on every node."""
        return self.value.expand(num_nodes, -1) if self.kind == "global" else self.value


def _average(
    field: torch.Tensor, group: Sequence[Symmetry], Ds: torch.Tensor, members: list[int]
) -> torch.Tensor:
    """Group average over ``members``: ``1/|M| sum_g D_g^T field[perm_g]`` (see ``project_invariant``)."""
    total = torch.zeros_like(field)
    for k in members:
        total += field[group[k].perm] @ Ds[k]
    return total / len(members)


def stabilizer(
    group: Sequence[Symmetry], Ds: torch.Tensor, field: torch.Tensor, tol: float = 1e-6
) -> list[int]:
    """Indices of the elements ``g`` of ``group`` that fix ``field``: ``field[perm_g] = field @ D_g^T``.

    Args:
        group: the symmetries (from ``symmetry_group``).
        Ds: ``[G, d, d]`` the representation of each element on the field's irreps.
        field: ``[N, d]`` per-node values.
        tol: tolerance relative to the largest ``|field|`` entry.
    """
    scale = max(float(field.abs().max()), 1e-300)
    return [
        k for k, g in enumerate(group) if float((field[g.perm] - field @ Ds[k].T).abs().max()) <= tol * scale
    ]


def _signed(field: torch.Tensor) -> torch.Tensor:
    """``field`` with its first clearly non-zero entry made positive (a fixed sign for generic features)."""
    flat = field.flatten()
    first = flat[int((flat.abs() > 1e-6 * flat.abs().max()).nonzero()[0])]
    return field * torch.sign(first)


def _normalised(field: torch.Tensor, value_norm: float) -> torch.Tensor:
    """``field`` scaled to a largest node norm of ``value_norm``, round-off entries (< 1e-12) set to 0."""
    field = field * (value_norm / float(field.norm(dim=1).max()))
    return torch.where(field.abs() < 1e-12 * value_norm, torch.zeros_like(field), field)


def _target_fields(
    irrep: Irrep, kind: str, pos: torch.Tensor, target: torch.Tensor, irreps_out: Irreps
) -> Iterator[tuple[torch.Tensor, str]]:
    """Candidate ``[N, 2l+1]`` fields built from the target, with a description of each."""
    for mul_ir, block in zip(irreps_out, irreps_out.slices(), strict=True):
        l1, p1 = mul_ir.ir.l, mul_ir.ir.p
        copies = target[:, block].reshape(len(target), mul_ir.mul, 2 * l1 + 1)
        for c in range(mul_ir.mul):
            name = f"{mul_ir.ir} block" + (f" (copy {c})" if mul_ir.mul > 1 else "")
            if kind == "per-node":
                if mul_ir.ir == irrep:
                    yield copies[:, c], f"the target's own {name}, less the part the input's symmetry allows"
                continue
            for l2 in range(abs(irrep.l - l1), irrep.l + l1 + 1):
                if p1 * (-1) ** l2 != irrep.p:
                    continue
                Y = spherical_harmonics(l2, pos, normalize=False, normalization="component")
                W = wigner_3j(l1, l2, irrep.l, dtype=torch.float64)
                moment = torch.einsum("abk,ia,ib->k", W, copies[:, c], Y)
                source = f"the target's moment sum_i ({name} ⊗ Y{l2}(r_i)) -> {irrep}"
                yield moment.expand(len(pos), -1), source


@dataclass(frozen=True)
class _Search:
    """What every candidate irrep is tested against (see :func:`breakers` for the fields)."""

    pos: torch.Tensor
    group: Sequence[Symmetry]
    target_members: list[int]
    target: torch.Tensor
    irreps_out: Irreps
    value_norm: float
    tol: float


def _breaker(search: _Search, irrep: Irrep, kind: str, generator: torch.Generator) -> Breaker | None:
    """A feature of ``irrep`` whose stabilizer in the group is exactly the target's subgroup, or ``None``."""
    group, members, n = search.group, search.target_members, len(search.pos)
    Ds = irrep.D_from_matrix(torch.stack([g.matrix for g in group]))
    everything = list(range(len(group)))
    shape = (1, irrep.dim) if kind == "global" else (n, irrep.dim)
    seed = torch.randn(shape, generator=generator, dtype=torch.float64).expand(n, -1)
    generic = _average(seed, group, Ds, members)
    generic = generic - _average(generic, group, Ds, everything)
    if float(generic.abs().max()) < 1e-9 * float(seed.abs().max()):
        return None  # no H-invariant feature of this irrep escapes G
    if stabilizer(group, Ds, generic, search.tol) != members:
        return None  # every H-invariant feature of this irrep keeps more than H
    scale = float(search.target.abs().max())
    residuals = (
        (field - _average(field, group, Ds, everything), source)
        for field, source in _target_fields(irrep, kind, search.pos, search.target, search.irreps_out)
    )
    from_target = (
        (field, source)
        for field, source in residuals
        if float(field.abs().max()) > 1e-9 * scale and stabilizer(group, Ds, field, search.tol) == members
    )
    generic_source = f"a harmonic of {irrep} invariant under the target's group and not the input's"
    field, source = next(from_target, (_signed(generic), generic_source))
    field = _normalised(field, search.value_norm)
    return Breaker(kind=kind, irrep=irrep, value=field[0] if kind == "global" else field, source=source)


def breakers(
    pos: torch.Tensor,
    group: Sequence[Symmetry],
    target_members: list[int],
    target: torch.Tensor,
    irreps_out: Irreps,
    lmax: int = 8,
    value_norm: float = 0.1,
    tol: float = 1e-6,
    seed: int = 0,
) -> list[Breaker]:
    """The lowest-degree features of each kind that break ``group`` down to its subgroup ``target_members``.

    Args:
        pos: ``[N, 3]`` centred positions (float64).
        group: the input's symmetries.
        target_members: indices (into ``group``) of the elements that fix the target, sorted.
        target: ``[N, irreps_out.dim]`` per-node targets (float64).
        irreps_out: irreps of ``target``.
        lmax: highest degree searched.
        value_norm: norm of the proposed global value (largest node norm of a per-node value).
        tol: relative tolerance of the stabilizer test.
        seed: seed of the generic features.

    Returns:
        For each kind (global first), every irrep ``(l, p)`` at the lowest degree ``l`` that works (the
        parity ``(-1)^l`` first); empty when ``target_members`` is the whole group.
    """
    if len(target_members) == len(group):
        return []
    search = _Search(pos, group, target_members, target, irreps_out, value_norm, tol)
    generator = torch.Generator().manual_seed(seed)
    found: list[Breaker] = []
    for kind in KINDS:
        for l in range(lmax + 1):
            natural = 1 if l % 2 == 0 else -1
            at_l = [_breaker(search, Irrep(l, p), kind, generator) for p in (natural, -natural)]
            at_l = [b for b in at_l if b is not None]
            if at_l:
                found += at_l
                break
    return found
