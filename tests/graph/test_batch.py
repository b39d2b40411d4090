"""Graph / GraphBatch / collate_graphs: round trips, edge offsets, device and dtype moves, errors."""

from __future__ import annotations

import pytest
import torch

from e3lab.graph import Graph, GraphBatch, collate_graphs


def make_graph(n: int, e: int, features: int = 4) -> Graph:
    return Graph(
        pos=torch.randn(n, 3),
        x=torch.randn(n, features),
        node_target=torch.randn(n, 3),
        graph_target=torch.randint(0, 5, ()),
        edge_index=torch.randint(0, n, (2, e)),
    )


def test_collate_then_graph_round_trip() -> None:
    graphs = [make_graph(4, 6), make_graph(1, 0), make_graph(7, 12)]
    batch = collate_graphs(graphs)
    assert len(batch) == batch.num_graphs == 3
    assert batch.ptr.tolist() == [0, 4, 5, 12]
    assert batch.batch.tolist() == [0] * 4 + [1] + [2] * 7
    assert batch.graph_target.shape == (3,)
    for i, original in enumerate(graphs):
        back = batch.graph(i)
        for name in ("pos", "x", "node_target", "graph_target", "edge_index"):
            assert torch.equal(getattr(back, name), getattr(original, name)), name
    assert torch.equal(batch.graph(-1).pos, graphs[-1].pos)


def test_edge_index_is_offset_per_graph() -> None:
    graphs = [make_graph(3, 2), make_graph(5, 4), make_graph(2, 1)]
    batch = collate_graphs(graphs)
    expected = torch.cat([graphs[0].edge_index, graphs[1].edge_index + 3, graphs[2].edge_index + 8], dim=1)
    assert torch.equal(batch.edge_index, expected)
    # every edge stays inside its own graph
    assert torch.equal(batch.batch[batch.edge_index[0]], batch.batch[batch.edge_index[1]])


def test_optional_fields_absent() -> None:
    batch = collate_graphs(
        [Graph(torch.randn(2, 3), torch.randn(2, 1)), Graph(torch.randn(3, 3), torch.randn(3, 1))]
    )
    assert batch.edge_index is None and batch.node_target is None and batch.graph_target is None
    assert batch.graph(1).edge_index is None


def test_to_moves_and_casts_floating_tensors_only() -> None:
    batch = collate_graphs([make_graph(3, 2), make_graph(2, 2)])
    moved = batch.to("cpu", dtype=torch.float64)
    assert moved.pos.dtype == moved.x.dtype == moved.node_target.dtype == torch.float64
    assert moved.batch.dtype == moved.ptr.dtype == moved.edge_index.dtype == torch.long
    assert moved.graph_target.dtype == torch.long
    torch.testing.assert_close(moved.x, batch.x.double())
    assert batch.to(torch.device("cpu")).pos.dtype == torch.float32


def test_lightning_moves_a_batch() -> None:
    """Lightning's batch transfer calls GraphBatch.to and gets a GraphBatch back."""
    move = pytest.importorskip("lightning.fabric.utilities.apply_func").move_data_to_device
    batch = collate_graphs([make_graph(3, 2), make_graph(2, 2)])
    moved = move(batch, torch.device("cpu"))
    assert isinstance(moved, GraphBatch)
    assert torch.equal(moved.edge_index, batch.edge_index)


@pytest.mark.cuda
def test_to_cuda() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    moved = collate_graphs([make_graph(3, 2), make_graph(2, 2)]).to("cuda")
    assert all(t.is_cuda for t in (moved.pos, moved.x, moved.batch, moved.ptr, moved.edge_index))


def test_invalid_graphs_and_batches() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_graphs([])
    with pytest.raises(ValueError, match="x shapes differ"):
        collate_graphs([make_graph(3, 2, features=4), make_graph(3, 2, features=5)])
    with pytest.raises(ValueError, match="graph 1 has no edge_index"):
        collate_graphs([make_graph(3, 2), Graph(torch.randn(2, 3), torch.randn(2, 4))])
    with pytest.raises(TypeError, match="Graph"):
        collate_graphs([make_graph(3, 2), {"pos": torch.randn(2, 3)}])
    pos = torch.randn(4, 3)
    pos[1, 2] = float("nan")
    with pytest.raises(ValueError, match="1 row"):
        Graph(pos, torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"x has shape \(3, 2\)"):
        Graph(torch.randn(4, 3), torch.randn(3, 2))
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        Graph(torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="edge_index spans"):
        Graph(torch.randn(4, 3), torch.randn(4, 2), edge_index=torch.tensor([[0, 4], [1, 2]]))
    with pytest.raises(ValueError, match="empty batch"):
        GraphBatch(
            torch.randn(0, 3), torch.randn(0, 2), torch.zeros(0, dtype=torch.long), torch.zeros(1).long()
        )
    with pytest.raises(ValueError, match="ptr must rise"):
        GraphBatch(torch.randn(3, 3), torch.randn(3, 2), torch.zeros(3).long(), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="batch must be"):
        GraphBatch(torch.randn(3, 3), torch.randn(3, 2), torch.tensor([0, 1, 1]), torch.tensor([0, 2, 3]))
    with pytest.raises(ValueError, match="graph_target"):
        GraphBatch(
            torch.randn(3, 3),
            torch.randn(3, 2),
            torch.zeros(3).long(),
            torch.tensor([0, 3]),
            graph_target=torch.ones(2),
        )
    with pytest.raises(IndexError, match="out of range"):
        collate_graphs([make_graph(3, 2)]).graph(1)
