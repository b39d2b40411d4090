"""Geometric graphs: radius graphs, scatter reductions, and batches of graphs.

``radius_graph`` and ``scatter`` follow torch_cluster's and torch_scatter's signatures and can use
them when installed, with pure-torch paths otherwise; ``Graph`` / ``GraphBatch`` are two small
dataclasses in place of PyTorch Geometric's ``Data`` / ``Batch``. For atoms: ``neighbor_list`` (periodic
images, integer cell shifts) and ``AtomsGraph`` / ``AtomsBatch`` / ``collate_atoms``.
"""

from e3lab.graph._atoms import AtomsBatch, AtomsGraph, collate_atoms
from e3lab.graph._batch import Graph, GraphBatch, collate_graphs
from e3lab.graph._periodic import neighbor_list
from e3lab.graph._radius import radius_graph
from e3lab.graph._scatter import scatter

__all__ = [
    "AtomsBatch",
    "AtomsGraph",
    "Graph",
    "GraphBatch",
    "collate_atoms",
    "collate_graphs",
    "neighbor_list",
    "radius_graph",
    "scatter",
]
