"""The Schoenflies name of a finite subgroup of O(3), found from its structure.

A finite point group is its rotation subgroup ``K`` (C1, Cn, Dn, T, O or I, told apart by the order and
the rotation axes) plus, when it has improper elements, a coset of the same size. With the inversion the
group is ``K x Ci`` (Ci, Cnh, S2n, Dnh, Dnd, Th, Oh, Ih); without it, the mirrors decide: Cs, Cnv (mirrors
containing the axis), Cnh (n odd: a mirror perpendicular to the axis), S2n (no mirror), Dnh, Dnd, Td.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from e3lab.symmetry._group import Symmetry

__all__ = ["PointGroup", "point_group"]

_TOL = 1e-6


@dataclass(frozen=True)
class PointGroup:
    """A finite point group, described by its structure.

    Attributes:
        name: Schoenflies symbol, e.g. ``"D4h"``.
        order: number of elements.
        axes: ``{n: count}``, the rotation axes of each order ``n >= 2``.
        inversion: whether the inversion belongs to the group.
        mirrors: number of mirror planes.
    """

    name: str
    order: int
    axes: dict[int, int]
    inversion: bool
    mirrors: int

    def __str__(self) -> str:
        return f"{self.name} ({self._elements()})"

    def _elements(self) -> str:
        return f"{self.order} element{'s' if self.order != 1 else ''}"

    def describe(self) -> str:
        """``"D4h: 16 elements; axes 1 C4, 4 C2; inversion; 5 mirrors"``."""
        axes = ", ".join(f"{count} C{n}" for n, count in sorted(self.axes.items(), reverse=True)) or "none"
        parts = [f"{self.name}: {self._elements()}", f"axes {axes}"]
        if self.inversion:
            parts.append("inversion")
        parts.append(f"{self.mirrors} mirror{'s' if self.mirrors != 1 else ''}")
        return "; ".join(parts)


def _rotation_axis(R: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Unit axis (sign fixed: first non-zero coordinate positive) and angle in ``(0, pi]`` of a rotation."""
    cos = max(-1.0, min(1.0, (float(torch.trace(R)) - 1.0) / 2.0))
    angle = math.acos(cos)
    skew = torch.stack([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    if skew.norm() > 1e-3:
        axis = skew
    else:  # a half turn: R + I = 2 a a^T
        sym = R + torch.eye(3, dtype=R.dtype)
        axis = sym[:, int(sym.norm(dim=0).argmax())]
    return _canonical(axis / axis.norm()), angle


def _mirror_normal(R: torch.Tensor) -> torch.Tensor:
    """Unit normal of a reflection ``R = I - 2 n n^T`` (sign fixed as in :func:`_rotation_axis`)."""
    outer = (torch.eye(3, dtype=R.dtype) - R) / 2
    n = outer[:, int(outer.norm(dim=0).argmax())]
    return _canonical(n / n.norm())


def _canonical(v: torch.Tensor) -> torch.Tensor:
    first = int((v.abs() > 1e-6).nonzero()[0])
    return v if v[first] > 0 else -v


def _distinct(vectors: list[torch.Tensor]) -> list[tuple[torch.Tensor, int]]:
    """Group equal (canonical) directions: ``[(direction, count)]``."""
    groups: list[tuple[torch.Tensor, int]] = []
    for v in vectors:
        for k, (u, count) in enumerate(groups):
            if (u - v).norm() < 1e-4:
                groups[k] = (u, count + 1)
                break
        else:
            groups.append((v, 1))
    return groups


def _matrices(group: Sequence[Symmetry] | torch.Tensor) -> torch.Tensor:
    if isinstance(group, torch.Tensor):
        matrices = group
    else:
        if not group:
            raise ValueError("group is empty; it must contain at least the identity (see symmetry_group)")
        matrices = torch.stack([g.matrix for g in group])
    matrices = matrices.detach().to(torch.float64)
    if matrices.ndim != 3 or matrices.shape[1:] != (3, 3):
        raise ValueError(f"expected [G, 3, 3] matrices, got {list(matrices.shape)}")
    eye = torch.eye(3, dtype=torch.float64)
    if (matrices @ matrices.transpose(1, 2) - eye).abs().max() > 1e-4:
        raise ValueError("the matrices are not orthogonal: pass elements of O(3) (e.g. from symmetry_group)")
    return matrices


def _rotation_name(order: int, axes: dict[int, int]) -> tuple[str, int]:
    """The rotation subgroup's family (``"C"``, ``"D"``, ``"T"``, ``"O"``, ``"I"``) and principal order."""
    n = max(axes, default=1)
    if order == 1:
        return "C", 1
    if sum(axes.values()) == 1:
        return "C", n
    if (order, n) == (12, 3):
        return "T", 3
    if (order, n) == (24, 4):
        return "O", 4
    if (order, n) == (60, 5):
        return "I", 5
    if order == 2 * n:
        return "D", n
    raise ValueError(f"these {order} rotations (axes {axes}) do not form a finite point group; check tol")


def point_group(group: Sequence[Symmetry] | torch.Tensor) -> PointGroup:
    """Name a finite subgroup of O(3) from its elements.

    Args:
        group: the elements, as returned by :func:`symmetry_group`, or a ``[G, 3, 3]`` tensor of
            orthogonal matrices. The elements must form a group (closed under products).

    Returns:
        The :class:`PointGroup`: Schoenflies name (C1, Ci, Cs, Cn, Cnv, Cnh, S2n, Dn, Dnh, Dnd, T, Td, Th,
        O, Oh, I, Ih), order, rotation axes, inversion and mirror count.
    """
    matrices = _matrices(group)
    eye = torch.eye(3, dtype=torch.float64)
    det = torch.linalg.det(matrices)
    proper = [R for R, d in zip(matrices, det, strict=True) if d > 0 and (R - eye).abs().max() > _TOL]
    improper = [R for R, d in zip(matrices, det, strict=True) if d < 0]
    inversion = any((R + eye).abs().max() < _TOL for R in improper)
    # a reflection has eigenvalues (1, 1, -1): trace 1
    normals = [_mirror_normal(R) for R in improper if abs(float(torch.trace(R)) - 1.0) < 1e-4]

    turns = [_rotation_axis(R) for R in proper]
    axes_found = _distinct([axis for axis, _ in turns])
    axes: dict[int, int] = {}
    for axis, count in axes_found:  # the rotations about one axis form C_k: k - 1 of them are not E
        smallest = min(angle for a, angle in turns if (a - axis).norm() < 1e-4)
        if abs(smallest * (count + 1) - 2 * math.pi) > 1e-4:
            raise ValueError(
                f"{count} rotations about one axis, the smallest by {math.degrees(smallest):.4g} degrees: "
                "the elements do not form a group (not closed); check tol"
            )
        axes[count + 1] = axes.get(count + 1, 0) + 1
    rotations = len(proper) + 1
    if len(improper) not in (0, rotations):
        raise ValueError(
            f"{rotations} rotations and {len(improper)} improper elements do not form a group; check tol"
        )
    family, n = _rotation_name(rotations, axes)
    principal = next((a for a, count in axes_found if count + 1 == n), None)

    if not improper:
        name = "C1" if rotations == 1 else f"{family}{n}" if family in "CD" else family
    elif inversion:
        name = _with_inversion(family, n)
    else:
        name = _without_inversion(family, n, principal, normals)
    return PointGroup(
        name=name, order=len(matrices), axes=axes, inversion=inversion, mirrors=len(_distinct(normals))
    )


def _with_inversion(family: str, n: int) -> str:
    if family == "C":
        if n == 1:
            return "Ci"
        return f"C{n}h" if n % 2 == 0 else f"S{2 * n}"
    if family == "D":
        return f"D{n}h" if n % 2 == 0 else f"D{n}d"
    return f"{family}h"


def _without_inversion(
    family: str, n: int, principal: torch.Tensor | None, normals: list[torch.Tensor]
) -> str:
    def horizontal() -> bool:  # a mirror perpendicular to the principal axis
        return principal is not None and any(abs(float(m @ principal)) > 1 - 1e-4 for m in normals)

    if family == "C":
        if n == 1:
            return "Cs"
        if any(abs(float(m @ principal)) < 1e-4 for m in normals):
            return f"C{n}v"
        return f"C{n}h" if horizontal() else f"S{2 * n}"
    if family == "D":
        return f"D{n}h" if horizontal() else f"D{n}d"
    if family == "T":
        return "Td"
    raise ValueError(f"a group with rotation subgroup {family} and improper elements contains the inversion")
