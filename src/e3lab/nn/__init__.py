"""Equivariant neural-network modules with e3nn's names: MLPs, activations, gates, convolutions."""

from ._activation import Activation
from ._convolution import STAGES, Convolution, ConvolutionStages, average_num_neighbors
from ._extract import Extract
from ._fc import FullyConnectedNet
from ._gate import Gate
from ._network import EquivariantConvNet

__all__ = [
    "STAGES",
    "Activation",
    "Convolution",
    "ConvolutionStages",
    "EquivariantConvNet",
    "Extract",
    "FullyConnectedNet",
    "Gate",
    "average_num_neighbors",
]
