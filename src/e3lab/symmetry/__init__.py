"""Symmetry of a geometry with features, the loss floor it imposes on equivariant models, and the input
features that would break it down to a target's symmetry."""

from e3lab.symmetry._floor import loss_floor, project_invariant
from e3lab.symmetry._group import Symmetry, symmetry_group
from e3lab.symmetry._point_group import PointGroup, point_group
from e3lab.symmetry._report import Proposal, SymmetryReport, analyze_symmetry

__all__ = [
    "PointGroup",
    "Proposal",
    "Symmetry",
    "SymmetryReport",
    "analyze_symmetry",
    "loss_floor",
    "point_group",
    "project_invariant",
    "symmetry_group",
]
