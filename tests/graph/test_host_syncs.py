"""No host synchronisation in a GPU training step: checks run once per batch, where it is made.

On CUDA the step runs under ``torch.cuda.set_sync_debug_mode("error")``. Without a GPU the same step runs
on the CPU with ``e3lab._value_checks.values_checkable`` answering as it does for GPU tensors, while every
Python-level read of a tensor value (``.item()``, ``int(t)``, ``float(t)``, ``bool(t)``, ``.tolist()``) is
counted: each would be a sync on a GPU.
"""

from __future__ import annotations

import traceback

import pytest
import torch

import e3lab._value_checks
from e3lab.data import tetris_graphs
from e3lab.graph import Graph, collate_graphs, radius_graph
from e3lab.models import GraphClassificationModule
from e3lab.o3 import rand_matrix

NET = {
    "_target_": "e3lab.nn.EquivariantConvNet",
    "irreps_in": "1x0e",
    "irreps_out": "1x0o + 6x0e",
    "irreps_hidden": "4x0e + 4x0o + 2x1e + 2x1o",
    "num_layers": 2,
    "lmax": 2,
    "max_radius": 1.1,
    "radial_hidden": 8,
}
READS = ("item", "__int__", "__float__", "__bool__", "__index__", "tolist")


def made_batch() -> object:
    """A batch as the data loader makes it: graphs with their radius-graph edges, collated (and checked)."""
    graphs = []
    for graph in tetris_graphs():
        pos = graph.pos @ rand_matrix(dtype=graph.pos.dtype).T
        edges = radius_graph(pos, NET["max_radius"])
        graphs.append(Graph(pos=pos, x=graph.x, graph_target=graph.graph_target, edge_index=edges))
    return collate_graphs(graphs)


def training_step(model: GraphClassificationModule, batch: object, optimizer: torch.optim.Optimizer) -> None:
    """Forward (net, scatter pooling), loss, backward, optimiser step."""
    logits = model(batch)
    loss = torch.nn.functional.cross_entropy(logits, batch.graph_target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_a_training_step_reads_no_tensor_value_when_tensors_are_on_a_gpu(monkeypatch) -> None:
    torch.manual_seed(0)
    model = GraphClassificationModule(NET)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = made_batch()
    training_step(model, batch.to("cpu"), optimizer)  # warm-up: lazy set-up may read values once

    reads: list[str] = []
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            reads.append(f"Tensor.{_name}:\n" + "".join(traceback.format_stack(limit=6)[:-1]))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    monkeypatch.setattr(e3lab._value_checks, "values_checkable", lambda *tensors: False)
    # forward and backward: e3lab's code (the optimiser's own step counters live on the CPU)
    moved = batch.to("cpu")  # what Lightning does with every batch
    loss = torch.nn.functional.cross_entropy(model(moved), moved.graph_target)
    loss.backward()
    assert reads == [], f"{len(reads)} value reads in the step; the first:\n{reads[0]}"


def test_the_patched_check_sees_the_reads_of_a_cpu_step(monkeypatch) -> None:
    """The counter works: on the CPU the checks do read values (index ranges, finiteness)."""
    calls = []
    original = e3lab._value_checks.values_checkable
    monkeypatch.setattr(e3lab._value_checks, "values_checkable", lambda *t: calls.append(1) or original(*t))
    torch.manual_seed(0)
    model = GraphClassificationModule(NET)
    training_step(model, made_batch().to("cpu"), torch.optim.Adam(model.parameters()))
    assert len(calls) >= 3  # backbone inputs, edge indices, scatter (and the tensor products' indices)


@pytest.mark.cuda
def test_a_cuda_training_step_has_no_host_sync() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    torch.manual_seed(0)
    model = GraphClassificationModule(NET).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = made_batch()
    training_step(model, batch.to("cuda"), optimizer)  # warm-up: kernel selection, caches
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            training_step(model, batch.to("cuda", non_blocking=True), optimizer)
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    torch.cuda.synchronize()
