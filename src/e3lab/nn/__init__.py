"""Equivariant neural-network modules with e3nn's names: MLPs, activations, gates, convolutions."""

from ._fc import FullyConnectedNet

__all__ = ["FullyConnectedNet"]
