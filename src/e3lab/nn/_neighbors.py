"""The average number of terms a convolution sums per node, over a data set (its normalisation ``z``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from e3lab.graph import radius_graph


def _positions(item: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(pos, batch)`` from a graph-like object, a ``(pos, batch)`` pair or a bare ``pos`` tensor."""
    if isinstance(item, torch.Tensor):
        return item, None
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    if hasattr(item, "pos"):
        return item.pos, getattr(item, "batch", None)
    raise TypeError(
        f"cannot read positions from {type(item).__name__}: give objects with a .pos (and optional .batch), "
        "(pos, batch) pairs, or [N, 3] position tensors"
    )


def average_num_neighbors(
    data: Iterable[Any],
    max_radius: float,
    max_num_neighbors: int = 1024,
    self_interaction: bool = False,
) -> float:
    """Average number of terms each node sums, over a data set: ``z`` of :class:`Convolution`.

    Args:
        data: graphs (objects with ``.pos`` and optional ``.batch``, e.g. ``Graph``/``GraphBatch``),
            ``(pos, batch)`` pairs, or ``pos: [N, 3]`` tensors.
        max_radius: radius of the graphs.
        max_num_neighbors: cap passed to ``radius_graph``.
        self_interaction: count the ``j = i`` term too (adds exactly 1).

    Returns:
        total edges / total nodes (+ 1 with ``self_interaction``).
    """
    edges = nodes = 0
    for item in data:
        pos, batch = _positions(item)
        edge_index = radius_graph(pos, max_radius, batch, max_num_neighbors=max_num_neighbors)
        edges += edge_index.shape[1]
        nodes += pos.shape[0]
    if nodes == 0:
        raise ValueError("average_num_neighbors got no nodes: pass a non-empty iterable of graphs")
    return edges / nodes + (1.0 if self_interaction else 0.0)
