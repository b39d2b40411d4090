"""LightningModules: a task (loss + metrics) around a backbone (an ``e3lab.nn.Backbone``), ``self.net``."""

from e3lab.models._base import EquivariantTask
from e3lab.models._graph_classification import GraphClassificationModule, logits_from_pooled, num_classes
from e3lab.models._metrics import DisplacementError, PeakCount
from e3lab.models._node_regression import NodeRegressionModule
from e3lab.models._potential import InteratomicPotential
from e3lab.models._potential_metrics import PotentialMetrics
from e3lab.models._signal_regression import SignalRegressionModule

__all__ = [
    "DisplacementError",
    "EquivariantTask",
    "GraphClassificationModule",
    "InteratomicPotential",
    "NodeRegressionModule",
    "PeakCount",
    "PotentialMetrics",
    "SignalRegressionModule",
    "logits_from_pooled",
    "num_classes",
]
