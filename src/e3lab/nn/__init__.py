"""Equivariant neural-network modules with e3nn's names: MLPs, activations, gates, convolutions."""

from ._activation import Activation
from ._extract import Extract
from ._fc import FullyConnectedNet
from ._gate import Gate

__all__ = ["Activation", "Extract", "FullyConnectedNet", "Gate"]
