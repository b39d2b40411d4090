"""Symmetry of a geometry with features, and the loss floor it imposes on equivariant models."""

from e3lab.symmetry._floor import loss_floor, project_invariant
from e3lab.symmetry._group import Symmetry, symmetry_group

__all__ = ["Symmetry", "loss_floor", "project_invariant", "symmetry_group"]
