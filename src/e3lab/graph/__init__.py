"""Geometric graphs: radius graphs, scatter reductions, and batches of graphs.

``radius_graph`` and ``scatter`` follow torch_cluster's and torch_scatter's signatures and can use
them when installed, with pure-torch paths otherwise; ``Graph`` / ``GraphBatch`` are two small
dataclasses in place of PyTorch Geometric's ``Data`` / ``Batch``.
"""

from e3lab.graph._batch import Graph, GraphBatch, collate_graphs
from e3lab.graph._radius import radius_graph
from e3lab.graph._scatter import scatter

__all__ = ["Graph", "GraphBatch", "collate_graphs", "radius_graph", "scatter"]
