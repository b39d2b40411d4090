"""Equivariant neural-network modules with e3nn's names: MLPs, activations, gates, convolutions, backbones."""

from ._activation import Activation
from ._backbone import Backbone, check_backbone_inputs
from ._convolution import STAGES, Convolution, ConvolutionStages
from ._edges import EdgeFeatures, channelwise_paths, edge_features
from ._extract import Extract
from ._fc import FullyConnectedNet
from ._gate import Gate
from ._neighbors import average_num_neighbors
from ._nequip import InteractionLayer, NequIPNet
from ._network import EquivariantConvNet
from ._radial import BesselEmbedding

__all__ = [
    "STAGES",
    "Activation",
    "Backbone",
    "BesselEmbedding",
    "Convolution",
    "ConvolutionStages",
    "EdgeFeatures",
    "EquivariantConvNet",
    "Extract",
    "FullyConnectedNet",
    "Gate",
    "InteractionLayer",
    "NequIPNet",
    "average_num_neighbors",
    "channelwise_paths",
    "check_backbone_inputs",
    "edge_features",
]
