"""Analyze a task's symmetry: the input's and the target's groups, the loss floor, and how to break it.

An equivariant model's output has at least its input's symmetry (the symmetry-breaking tutorial's lesson:
no equivariant network turns a square into a rectangle). :func:`analyze_symmetry` names the input's group
``G`` and the target's group ``H`` (the elements of ``G`` that also fix the target), computes the loss
floor, and when ``H`` is smaller than ``G`` proposes the lowest-degree input features that break ``G`` down
to ``H``, each verified by recomputing the floor with the feature added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from e3lab.o3 import Irrep, Irreps
from e3lab.symmetry._breaking import breakers, stabilizer
from e3lab.symmetry._floor import project_invariant
from e3lab.symmetry._group import symmetry_group
from e3lab.symmetry._point_group import PointGroup, point_group

__all__ = ["Proposal", "SymmetryReport", "analyze_symmetry"]


@dataclass(frozen=True)
class Proposal:
    """An input feature that breaks the input's symmetry down to the target's, verified.

    Attributes:
        kind: ``"global"`` (the same ``value`` on every node) or ``"per-node"``.
        irrep: the feature's irrep ``(l, p)``; add ``irreps`` (``"1x<l><p>"``) to the input irreps.
        value: ``[2l+1]`` (global) or ``[N, 2l+1]`` (per-node), float64.
        source: how the value was built.
        group: the symmetry group of the input with the feature added.
        floor: the loss floor with the feature added.
        floor_before: the loss floor without it.
    """

    kind: str
    irrep: Irrep
    value: torch.Tensor
    source: str
    group: PointGroup
    floor: float
    floor_before: float

    @property
    def irreps(self) -> Irreps:
        return Irreps([(1, self.irrep)])

    @property
    def reaches_target(self) -> bool:
        """Whether the floor with the feature is 0 (to float64 round-off relative to the floor before)."""
        return self.floor <= 1e-9 * self.floor_before

    def verdict(self) -> str:
        if self.reaches_target:
            return f"floor with it: 0 (was {self.floor_before:.4g})"
        return f"floor with it: {self.floor:.4g}, lower by {self.floor_before - self.floor:.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "irreps": str(self.irreps),
            "value": self.value.tolist(),
            "source": self.source,
            "group": self.group.name,
            "group_order": self.group.order,
            "floor": self.floor,
        }


@dataclass(frozen=True)
class SymmetryReport:
    """What :func:`analyze_symmetry` found; ``str(report)`` is a readable report.

    Attributes:
        input_group: the input's point group ``G`` (positions and features).
        target_group: ``H``, the elements of ``G`` that also fix the target.
        floor: lowest MSE of any model respecting ``G``: 0 when ``H = G``.
        zero_output_loss: MSE of an all-zero output, for scale.
        proposals: the lowest-degree breaking features, global ones first; empty when there is nothing
            to break.
        message: one line saying what the report means.
    """

    input_group: PointGroup
    target_group: PointGroup
    floor: float
    zero_output_loss: float
    proposals: tuple[Proposal, ...]
    message: str

    @property
    def reachable(self) -> bool:
        """Whether the target has all of the input's symmetry (the floor is 0)."""
        return self.target_group.order == self.input_group.order

    @property
    def proposal(self) -> Proposal | None:
        """The first proposal (a global feature when one works), or ``None``."""
        return self.proposals[0] if self.proposals else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_group": self.input_group.name,
            "input_group_order": self.input_group.order,
            "target_group": self.target_group.name,
            "target_group_order": self.target_group.order,
            "floor": self.floor,
            "zero_output_loss": self.zero_output_loss,
            "reachable": self.reachable,
            "proposals": [p.to_dict() for p in self.proposals],
            "message": self.message,
        }

    def __str__(self) -> str:
        lines = [
            f"input group:  {self.input_group.describe()}",
            f"target group: {self.target_group.describe()} (the input's symmetries the target keeps)",
            f"loss floor:   {_floor_text(self.floor, self.zero_output_loss)} (all-zero output: "
            f"{self.zero_output_loss:.4g})",
            self.message,
        ]
        for p in self.proposals:
            lines += [
                f"- {p.kind} {p.irrep} = {_values(p.value)}",
                f"    from {p.source}",
                f"    input group with it: {p.group}; {p.verdict()}",
            ]
        return "\n".join(lines)


def _floor_text(floor: float, scale: float) -> str:
    """The floor, or ``0`` when it is float64 round-off relative to ``scale``."""
    return "0" if floor <= 1e-12 * scale else f"{floor:.4g}"


def _values(value: torch.Tensor, rows: int = 4) -> str:
    """``[0, 0.0866, ...]`` for a vector; a per-node matrix's first ``rows`` rows and its node count."""

    def row(v: torch.Tensor) -> str:
        return "[" + ", ".join(f"{round(float(c), 6) + 0.0:.6g}" for c in v) + "]"

    if value.ndim == 1:
        return row(value)
    shown = ", ".join(row(v) for v in value[:rows])
    return f"[{shown}{', ...' if len(value) > rows else ''}] ({len(value)} nodes)"


def _per_node_target(target: torch.Tensor, num_nodes: int, irreps_out: Irreps) -> torch.Tensor:
    if target.ndim == 1 or (target.ndim == 2 and target.shape[0] == 1 and num_nodes != 1):
        target = target.reshape(1, -1).expand(num_nodes, -1)  # one graph-level target, fixed by every g
    if target.ndim != 2 or target.shape != (num_nodes, irreps_out.dim):
        raise ValueError(
            f"target must be [N, irreps_out.dim] = [{num_nodes}, {irreps_out.dim}] per node, or "
            f"[{irreps_out.dim}] for the whole graph (irreps_out {irreps_out}); got {list(target.shape)}"
        )
    return target.detach().to(torch.float64)


def _floor(target: torch.Tensor, group: list, irreps_out: Irreps) -> float:
    return float((target - project_invariant(target, group, irreps_out)).pow(2).mean())


def analyze_symmetry(
    pos: torch.Tensor,
    x: torch.Tensor,
    irreps_in: Irreps | str,
    target: torch.Tensor,
    irreps_out: Irreps | str,
    lmax: int = 8,
    value_norm: float = 0.1,
    tol: float = 1e-6,
) -> SymmetryReport:
    """The symmetry groups of a task, its loss floor, and the features that would break the symmetry.

    Args:
        pos: ``[N, 3]`` positions of one graph (not collinear: a continuous group is not handled).
        x: ``[N, irreps_in.dim]`` input node features.
        irreps_in: irreps of ``x``.
        target: ``[N, irreps_out.dim]`` per-node targets, or ``[irreps_out.dim]`` for the whole graph.
        irreps_out: irreps of ``target``.
        lmax: highest degree of the features searched.
        value_norm: norm of a proposed global value (largest node norm of a per-node one).
        tol: tolerance of the symmetry detection (positions, features; relative for the target).

    Returns:
        The :class:`SymmetryReport`.
    """
    irreps_in, irreps_out = Irreps(irreps_in), Irreps(irreps_out)
    if not value_norm > 0:
        raise ValueError(f"value_norm={value_norm!r} must be > 0 (e.g. 0.1, the tutorial's breaker norm)")
    group = symmetry_group(pos, x, irreps_in, tol=tol)
    pos = pos.detach().to(torch.float64)
    pos = pos - pos.mean(dim=0)
    target = _per_node_target(target, len(pos), irreps_out)
    D_out = irreps_out.D_from_matrix(torch.stack([g.matrix for g in group]))
    members = stabilizer(group, D_out, target, tol) if target.abs().max() > 0 else list(range(len(group)))
    input_group, target_group = point_group(group), point_group([group[k] for k in members])
    floor = _floor(target, group, irreps_out)
    zero_loss = float(target.pow(2).mean())

    proposals = []
    for b in breakers(pos, group, members, target, irreps_out, lmax, value_norm, tol):
        x_new = torch.cat([x.detach().to(torch.float64), b.node_values(len(pos))], dim=1)
        new_group = symmetry_group(pos, x_new, irreps_in + Irreps([(1, b.irrep)]), tol=tol)
        proposals.append(
            Proposal(
                kind=b.kind,
                irrep=b.irrep,
                value=b.value,
                source=b.source,
                group=point_group(new_group),
                floor=_floor(target, new_group, irreps_out),
                floor_before=floor,
            )
        )
    return SymmetryReport(
        input_group=input_group,
        target_group=target_group,
        floor=floor,
        zero_output_loss=zero_loss,
        proposals=tuple(proposals),
        message=_message(input_group, target_group, proposals, lmax),
    )


def _message(G: PointGroup, H: PointGroup, proposals: list[Proposal], lmax: int) -> str:
    if G.order == 1:
        return "The input has no symmetry (C1): every target is reachable; nothing to propose."
    if H.order == G.order:
        return (
            f"The target keeps all of the input's symmetry ({G.name}): it is reachable; nothing to propose."
        )
    head = (
        f"{G.name} -> {H.name}: the target has less symmetry than the input; no equivariant model reaches it"
    )
    if not proposals:
        return f"{head}.\nNo single input irrep up to l={lmax} breaks {G.name} down to {H.name}; raise lmax."
    return (
        f"{head}.\nInputs that break {G.name} down to {H.name}, lowest degree (l, parity) of each kind "
        "(global: the same value on every node):"
    )
