"""Scalar math used by the equivariant layers: radial bases, smooth steps, activation scaling."""

from ._normalize_activation import moment, normalize2mom
from ._poly_cutoff import PolynomialCutoff, poly_cutoff
from ._soft_one_hot_linspace import soft_one_hot_linspace
from ._soft_unit_step import soft_unit_step

__all__ = [
    "PolynomialCutoff",
    "moment",
    "normalize2mom",
    "poly_cutoff",
    "soft_one_hot_linspace",
    "soft_unit_step",
]
