"""Small map-style datasets of ``Graph`` objects and the loader they share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from e3lab.data._loaders import EpochSampler, ResumableLoader, run_seed
from e3lab.graph import Graph, collate_graphs
from e3lab.o3 import Irreps, rand_matrix


def rotate_graph(graph: Graph, R: torch.Tensor, irreps_in: Irreps, irreps_out: Irreps | None) -> Graph:
    """The graph transformed by the orthogonal ``R: [3, 3]`` (about the origin).

    ``pos -> pos R^T``, ``x -> x D_in(R)^T`` and, when ``irreps_out`` is given, node targets
    ``-> node_target D_out(R)^T``; graph targets are left as they are.
    """
    R = R.to(graph.pos.dtype)
    node_target = graph.node_target
    if irreps_out is not None and node_target is not None:
        node_target = node_target @ irreps_out.D_from_matrix(R).T
    return Graph(
        pos=graph.pos @ R.T,
        x=graph.x @ irreps_in.D_from_matrix(R).T,
        node_target=node_target,
        graph_target=graph.graph_target,
    )


class GraphListDataset(Dataset):
    """A fixed list of graphs."""

    def __init__(self, graphs: Sequence[Graph]) -> None:
        self.graphs = list(graphs)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: int) -> Graph:
        return self.graphs[index]


class RandomlyRotated(Dataset):
    """``length`` items cycling through ``graphs``, each freshly rotated by a Haar-random rotation.

    Node targets transform with ``irreps_out`` (``None``: graph-level, invariant targets).
    """

    def __init__(
        self, graphs: Sequence[Graph], length: int, irreps_in: Irreps, irreps_out: Irreps | None
    ) -> None:
        if length < 1:
            raise ValueError(f"length={length} must be >= 1")
        self.graphs = list(graphs)
        self.length = length
        self.irreps_in = irreps_in
        self.irreps_out = irreps_out

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Graph:
        graph = self.graphs[index % len(self.graphs)]
        R = rand_matrix(dtype=graph.pos.dtype)
        return rotate_graph(graph, R, self.irreps_in, self.irreps_out)


def graph_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    collate_fn: Callable[[list[Any]], Any] = collate_graphs,
    training: bool | None = None,
) -> DataLoader:
    """DataLoader yielding the batches ``collate_fn`` makes (default ``GraphBatch``; main process).

    ``collate_fn`` turns a list of dataset items into one batch: ``collate_graphs`` for ``Graph`` items,
    ``e3lab.graph.collate_atoms`` for ``AtomsGraph`` items. ``training`` (default: ``shuffle``) makes a
    :class:`ResumableLoader`: resumable mid-epoch, each rank's share padded to equal length under DDP,
    the order drawn from the run's seed and the epoch when ``shuffle``. Otherwise the loader covers each
    item exactly once across DDP ranks (no padding), in order. See :mod:`e3lab.data._loaders`.
    """
    training = shuffle if training is None else training
    seed = run_seed()
    sampler = EpochSampler(dataset, shuffle=shuffle, pad=training, seed=seed)
    if training:
        return ResumableLoader(
            dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, seed=seed
        )
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn)


def check_irreps(name: str, declared: str | None, actual: Irreps) -> Irreps:
    """``actual``, after checking that the irreps ``declared`` in the config (if any) agree with it."""
    if declared is not None and Irreps(declared) != actual:
        raise ValueError(
            f"{name}={declared!r} in the data config does not match the data, which has {name}={actual}; "
            f"set {name}: {str(actual)!r} (or drop it)"
        )
    return actual
