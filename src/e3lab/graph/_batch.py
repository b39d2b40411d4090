"""Geometric graphs and batches of them, as two plain dataclasses.

PyTorch Geometric's ``Data`` / ``Batch`` would do, but it is a heavy dependency for two small
containers; these carry exactly the fields of e3lab's data contract and nothing else. A
``GraphBatch`` is many graphs as one disjoint graph: nodes concatenated, ``batch`` / ``ptr`` say
which graph each node belongs to, and ``edge_index`` is offset to global node indices.
Lightning moves a ``GraphBatch`` to the device through its ``to`` method.

A batch is checked once, where it is made (``collate_graphs`` or the constructor, in the data loader,
on the CPU); ``to`` copies the checked tensors without checking them again, so moving a batch to a GPU
and training on it needs no host synchronisation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def _check_nodes(name: str, tensor: Tensor | None, num_nodes: int) -> None:
    if tensor is not None and (tensor.dim() == 0 or tensor.shape[0] != num_nodes):
        shape = tuple(tensor.shape)
        raise ValueError(
            f"{name} has shape {shape} but there are {num_nodes} nodes: expected [{num_nodes}, ...]"
        )


def _check_pos_x(pos: Tensor, x: Tensor) -> None:
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must have shape [n, 3], got {tuple(pos.shape)}")
    if not pos.is_floating_point():
        raise TypeError(f"pos must be floating point, got {pos.dtype}; convert it with pos.float()")
    bad = int((~torch.isfinite(pos).all(dim=1)).sum())
    if bad:
        raise ValueError(f"pos has {bad} row(s) with NaN or Inf; remove or fix those nodes")
    if x.dim() != 2:
        raise ValueError(f"x must have shape [n, irreps_in.dim], got {tuple(x.shape)}")
    _check_nodes("x", x, pos.shape[0])


def _check_edges(edge_index: Tensor | None, num_nodes: int) -> None:
    if edge_index is None:
        return
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise TypeError(f"edge_index must be an integer tensor, got {edge_index.dtype}")
    if edge_index.numel() == 0:
        return
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0 or high >= num_nodes:
        raise ValueError(f"edge_index spans [{low}, {high}] but node indices must be in [0, {num_nodes})")


def _move(
    tensor: Tensor | None, device: torch.device | str | None, dtype: torch.dtype | None, non_blocking: bool
) -> Tensor | None:
    if tensor is None:
        return None
    cast = dtype if dtype is not None and tensor.is_floating_point() else None
    return tensor.to(device=device, dtype=cast, non_blocking=non_blocking)


@dataclass(eq=False)
class Graph:
    """One geometric graph.

    Attributes:
        pos: [n, 3] finite node positions.
        x: [n, irreps_in.dim] node features (e3nn's ``mul_ir`` layout).
        node_target: [n, ...] per-node target, optional.
        graph_target: [...] one target for the whole graph (a class index, a vector), optional.
        edge_index: [2, e] (source, target) local node indices, optional.
    """

    pos: Tensor
    x: Tensor
    node_target: Tensor | None = None
    graph_target: Tensor | None = None
    edge_index: Tensor | None = None

    def __post_init__(self) -> None:
        _check_pos_x(self.pos, self.x)
        _check_nodes("node_target", self.node_target, self.pos.shape[0])
        _check_edges(self.edge_index, self.pos.shape[0])

    @property
    def num_nodes(self) -> int:
        return self.pos.shape[0]


@dataclass(eq=False)
class GraphBatch:
    """``B`` graphs as one disjoint graph of ``N`` nodes.

    Attributes:
        pos: [N, 3] node positions.
        x: [N, irreps_in.dim] node features.
        batch: [N] int64 graph index of each node (sorted).
        ptr: [B + 1] int64 node offsets: graph ``b`` owns nodes ``ptr[b]:ptr[b + 1]``.
        edge_index: [2, E] global node indices (each graph's edges offset by its ``ptr``), optional.
        node_target: [N, ...] optional.
        graph_target: [B, ...] optional.
    """

    pos: Tensor
    x: Tensor
    batch: Tensor
    ptr: Tensor
    edge_index: Tensor | None = None
    node_target: Tensor | None = None
    graph_target: Tensor | None = None

    def __post_init__(self) -> None:
        _check_pos_x(self.pos, self.x)
        num_nodes = self.pos.shape[0]
        if self.ptr.dim() != 1 or self.ptr.numel() < 2:
            raise ValueError(
                f"empty batch: ptr must have shape [B + 1] with B >= 1, got {tuple(self.ptr.shape)}"
            )
        sizes = self.ptr.diff()
        if int(self.ptr[0]) != 0 or int(self.ptr[-1]) != num_nodes or bool((sizes < 0).any()):
            raise ValueError(
                f"ptr must rise from 0 to the number of nodes {num_nodes}, got {self.ptr.tolist()}"
            )
        expected = torch.repeat_interleave(torch.arange(sizes.numel(), device=sizes.device), sizes)
        if self.batch.shape != (num_nodes,) or not torch.equal(self.batch, expected.to(self.batch)):
            raise ValueError("batch must be [N] with node i in graph b exactly when ptr[b] <= i < ptr[b + 1]")
        _check_nodes("node_target", self.node_target, num_nodes)
        _check_nodes("graph_target", self.graph_target, self.num_graphs)
        _check_edges(self.edge_index, num_nodes)

    @property
    def num_graphs(self) -> int:
        return self.ptr.numel() - 1

    def __len__(self) -> int:
        return self.num_graphs

    def to(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        non_blocking: bool = False,
    ) -> GraphBatch:
        """A copy with every tensor on ``device``; floating tensors also cast to ``dtype`` when given.

        Not checked again: the values were checked when this batch was made, and reading them on a GPU
        would stall the host (a cast can overflow to Inf only from float64 values beyond float32's range).
        """
        moved = object.__new__(GraphBatch)
        for f in dataclasses.fields(self):
            setattr(moved, f.name, _move(getattr(self, f.name), device, dtype, non_blocking))
        return moved

    def graph(self, i: int) -> Graph:
        """Graph ``i`` alone, with local edge indices (the inverse of :func:`collate_graphs`)."""
        if not -self.num_graphs <= i < self.num_graphs:
            raise IndexError(f"graph index {i} out of range for a batch of {self.num_graphs} graphs")
        i %= self.num_graphs
        lo, hi = int(self.ptr[i]), int(self.ptr[i + 1])
        edge_index = None
        if self.edge_index is not None:
            mine = (self.edge_index[1] >= lo) & (self.edge_index[1] < hi)
            edge_index = self.edge_index[:, mine] - lo
        return Graph(
            pos=self.pos[lo:hi],
            x=self.x[lo:hi],
            node_target=None if self.node_target is None else self.node_target[lo:hi],
            graph_target=None if self.graph_target is None else self.graph_target[i],
            edge_index=edge_index,
        )


def _join(graphs: Sequence[Graph], name: str, dim: int = 0, stack: bool = False) -> Tensor | None:
    """Field ``name`` of all graphs concatenated along ``dim`` (or stacked); ``None`` if no graph has it."""
    tensors = [getattr(g, name) for g in graphs]
    present = [t is not None for t in tensors]
    if not any(present):
        return None
    if not all(present):
        missing = present.index(False)
        raise ValueError(f"graph {missing} has no {name} but others do; give every graph a {name} or none")
    shapes = {tuple(n for d, n in enumerate(t.shape) if stack or d != dim) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"{name} shapes differ across graphs ({sorted(shapes)}); make them agree")
    return torch.stack(tensors) if stack else torch.cat(tensors, dim=dim)


def collate_graphs(graphs: Sequence[Graph]) -> GraphBatch:
    """Concatenate graphs into one :class:`GraphBatch`, offsetting each graph's edges by its first node."""
    if len(graphs) == 0:
        raise ValueError("empty batch: collate_graphs needs at least one Graph")
    for k, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise TypeError(f"graphs[{k}] is a {type(g).__name__}, expected an e3lab.graph.Graph")
    device = graphs[0].pos.device
    sizes = torch.tensor([g.num_nodes for g in graphs], device=device)
    ptr = torch.cat([sizes.new_zeros(1), torch.cumsum(sizes, 0)])
    edge_index = _join(graphs, "edge_index", dim=1)
    if edge_index is not None:
        num_edges = torch.tensor([g.edge_index.shape[1] for g in graphs], device=device)
        edge_index = edge_index.long() + torch.repeat_interleave(ptr[:-1], num_edges)
    return GraphBatch(
        pos=torch.cat([g.pos for g in graphs]),
        x=_join(graphs, "x"),
        batch=torch.repeat_interleave(torch.arange(len(graphs), device=device), sizes),
        ptr=ptr,
        edge_index=edge_index,
        node_target=_join(graphs, "node_target"),
        graph_target=_join(graphs, "graph_target", stack=True),
    )
