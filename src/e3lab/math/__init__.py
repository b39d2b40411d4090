"""Scalar math used by the equivariant layers: radial bases, smooth steps, activation scaling."""

from ._normalize_activation import (
    get_normalize2mom_constant,
    moment,
    normalize2mom,
    normalize2mom_constant,
    set_normalize2mom_constant,
)
from ._poly_cutoff import PolynomialCutoff, poly_cutoff
from ._soft_one_hot_linspace import soft_one_hot_linspace
from ._soft_unit_step import soft_unit_step

__all__ = [
    "PolynomialCutoff",
    "get_normalize2mom_constant",
    "moment",
    "normalize2mom",
    "normalize2mom_constant",
    "poly_cutoff",
    "set_normalize2mom_constant",
    "soft_one_hot_linspace",
    "soft_unit_step",
]
