"""radius_graph: the native cell list against brute force and torch_cluster, edge cases, errors."""

from __future__ import annotations

import pytest
import torch

from e3lab.graph import radius_graph
from e3lab.graph._cell_list import radius_graph_native


def brute_force(pos: torch.Tensor, r: float, batch: torch.Tensor | None = None, loop: bool = False) -> set:
    """All (source, target) with |pos_i - pos_j| < r in one graph, from the full distance matrix."""
    diff = pos[:, None, :] - pos[None, :, :]
    close = (diff[..., 0] ** 2 + diff[..., 1] ** 2 + diff[..., 2] ** 2) < r * r
    if batch is not None:
        close &= batch[:, None] == batch[None, :]
    if not loop:
        close.fill_diagonal_(False)
    return {(j, i) for i, j in close.nonzero().tolist()}


def edge_set(edge_index: torch.Tensor) -> set:
    return set(map(tuple, edge_index.t().tolist()))


def random_batch(n: int, num_graphs: int) -> torch.Tensor:
    return torch.sort(torch.randint(0, num_graphs, (n,)))[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("with_batch", [False, True])
def test_native_matches_brute_force(dtype: torch.dtype, loop: bool, with_batch: bool) -> None:
    pos = torch.randn(300, 3, dtype=dtype)
    batch = random_batch(300, 4) if with_batch else None
    edges = radius_graph(pos, 0.7, batch, loop=loop, max_num_neighbors=1000, backend="native")
    assert edges.dtype == torch.long
    assert edge_set(edges) == brute_force(pos, 0.7, batch, loop)
    assert edges.shape[1] == len(edge_set(edges))  # no duplicates


def test_native_blocks_give_the_same_edges() -> None:
    """Candidate generation in tiny blocks (many loop iterations) changes nothing."""
    pos = torch.randn(200, 3)
    batch = random_batch(200, 3)
    whole = radius_graph_native(pos, 0.8, batch, False, 1000)
    blocked = radius_graph_native(pos, 0.8, batch, False, 1000, block_size=50)
    assert torch.equal(whole, blocked)


def test_sorted_by_target_then_source_and_flow() -> None:
    pos = torch.randn(150, 3)
    edges = radius_graph(pos, 0.9, max_num_neighbors=1000, backend="native")
    key = edges[1] * 150 + edges[0]
    assert torch.equal(key, torch.sort(key)[0])
    flipped = radius_graph(pos, 0.9, max_num_neighbors=1000, flow="target_to_source", backend="native")
    assert torch.equal(flipped, edges.flip(0))


def test_cutoff_is_strict() -> None:
    """An edge needs |pos_i - pos_j| < r, as torch_cluster: a pair exactly r apart is not an edge."""
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    assert radius_graph(pos, 0.5, backend="native").shape == (2, 0)
    assert edge_set(radius_graph(pos, 0.5 + 1e-6, backend="native")) == {(0, 1), (1, 0)}


def test_max_num_neighbors_keeps_the_nearest() -> None:
    pos = torch.randn(60, 3) * 0.1  # every pair within r
    for loop in (False, True):
        edges = radius_graph(pos, 10.0, loop=loop, max_num_neighbors=7, backend="native")
        counts = torch.bincount(edges[1], minlength=60)
        assert (counts == 7).all()
        dist = torch.cdist(pos, pos)
        if not loop:
            dist.fill_diagonal_(float("inf"))
        for i in (0, 17, 59):
            expected = set(torch.topk(dist[i], 7, largest=False).indices.tolist())
            assert set(edges[0, edges[1] == i].tolist()) == expected
        if loop:  # the self edge is the nearest one, so it is always kept
            assert (edges[0] == edges[1]).sum() == 60


def test_max_num_neighbors_leaves_sparse_targets_alone() -> None:
    pos = torch.cat([torch.randn(30, 3) * 0.01, torch.tensor([[5.0, 5.0, 5.0], [5.1, 5.0, 5.0]])])
    edges = radius_graph(pos, 1.0, max_num_neighbors=4, backend="native")
    counts = torch.bincount(edges[1], minlength=32)
    assert (counts[:30] == 4).all() and (counts[30:] == 1).all()
    assert radius_graph(pos, 1.0, max_num_neighbors=0, backend="native").shape == (2, 0)


def test_empty_single_and_isolated() -> None:
    assert radius_graph(torch.zeros(0, 3), 1.0, backend="native").shape == (2, 0)
    assert radius_graph(torch.zeros(0, 3), 1.0).dtype == torch.long
    single = torch.zeros(1, 3)
    assert radius_graph(single, 1.0, backend="native").shape == (2, 0)
    assert radius_graph(single, 1.0, loop=True, backend="native").tolist() == [[0], [0]]
    far = torch.arange(5.0)[:, None] * torch.tensor([[10.0, 0.0, 0.0]])
    assert radius_graph(far, 1.0, backend="native").shape == (2, 0)
    pos = torch.cat([far, torch.tensor([[0.3, 0.0, 0.0]])])  # node 5 next to node 0, others isolated
    assert edge_set(radius_graph(pos, 1.0, backend="native")) == {(0, 5), (5, 0)}


def test_huge_coordinates(float64: None) -> None:
    """Offsets of 1e6 (one cloud, and two clouds 1e6 apart) give the same edges as the centred cloud."""
    pos = torch.randn(200, 3)
    reference = radius_graph(pos, 0.7, max_num_neighbors=1000, backend="native")
    shifted = radius_graph(pos + 1e6, 0.7, max_num_neighbors=1000, backend="native")
    assert torch.equal(reference, shifted)
    two = torch.cat([pos, pos + torch.tensor([1e6, -1e6, 3e6])])
    edges = radius_graph(two, 0.7, max_num_neighbors=1000, backend="native")
    assert edge_set(edges) == edge_set(reference) | edge_set(reference + 200)


def test_batch_separates_graphs() -> None:
    """Two graphs with identical positions: no edge crosses, each graph has the single-graph edges."""
    pos = torch.randn(100, 3)
    batch = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    single = radius_graph(pos, 0.8, max_num_neighbors=1000, backend="native")
    both = radius_graph(torch.cat([pos, pos]), 0.8, batch, max_num_neighbors=1000, backend="native")
    assert edge_set(both) == edge_set(single) | edge_set(single + 100)


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("with_batch", [False, True])
def test_native_matches_torch_cluster(loop: bool, with_batch: bool) -> None:
    pytest.importorskip("torch_cluster")
    pos = torch.rand(2000, 3) * 4
    batch = random_batch(2000, 5) if with_batch else None
    native = radius_graph(pos, 0.5, batch, loop=loop, max_num_neighbors=1000, backend="native")
    cluster = radius_graph(pos, 0.5, batch, loop=loop, max_num_neighbors=1000, backend="torch_cluster")
    assert native.shape[1] > 2000
    assert edge_set(native) == edge_set(cluster)
    assert torch.equal(radius_graph(pos, 0.5, batch, loop=loop, max_num_neighbors=1000), cluster)  # auto


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_both_backends_give_the_same_tensor_also_when_truncating(loop: bool, flow: str) -> None:
    """One canonical graph: the same neighbours kept under max_num_neighbors (the nearest, ties to the
    lower index), the same order, the same cutoff decisions."""
    pytest.importorskip("torch_cluster")
    torch.manual_seed(0)
    dense = torch.randn(300, 3, dtype=torch.float64) * 0.3  # ~100 neighbours each: truncated to 7
    batch = random_batch(300, 3)
    for pos, k in ((dense, 7), (dense.float(), 7), (torch.rand(2000, 3) * 4, 1000)):
        native = radius_graph(pos, 0.5, batch if len(pos) == 300 else None, loop, k, flow, backend="native")
        cluster = radius_graph(pos, 0.5, batch if len(pos) == 300 else None, loop, k, flow, "torch_cluster")
        assert torch.equal(native, cluster)
    counts = torch.bincount(native[1 if flow == "source_to_target" else 0])
    assert counts.max() <= 1000
    # a cutoff decided by one formula: a pair exactly r apart is out with both
    pair = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    assert radius_graph(pair, 0.5, backend="torch_cluster").shape == (2, 0)


def test_training_with_either_backend_gives_identical_losses_over_20_steps(monkeypatch) -> None:
    """Deterministic algorithms, a dense cloud whose graph is truncated: the same 20 losses."""
    pytest.importorskip("torch_cluster")
    import e3lab.graph._radius as radius_module
    from e3lab.nn import EquivariantConvNet

    def losses(torch_cluster_available: bool) -> list[float]:
        monkeypatch.setattr(radius_module, "_torch_cluster_supports", lambda device: torch_cluster_available)
        torch.manual_seed(0)
        net = EquivariantConvNet(
            irreps_in="1x0e",
            irreps_hidden="4x0e + 2x1o",
            irreps_out="1x0e + 1x1o",
            num_layers=2,
            lmax=1,
            max_radius=1.0,
            radial_hidden=8,
            max_num_neighbors=6,
        ).double()
        pos = torch.rand(40, 3, dtype=torch.float64)  # every pair within 1.0 of most others
        x = torch.ones(40, 1, dtype=torch.float64)
        target = torch.randn(40, 4, dtype=torch.float64)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        out = []
        for _ in range(20):
            optimizer.zero_grad()
            loss = (net(x, pos) - target).pow(2).mean()
            loss.backward()
            optimizer.step()
            out.append(loss.item())
        return out

    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        native, cluster = losses(False), losses(True)
    finally:
        torch.use_deterministic_algorithms(previous)
    assert native == cluster
    assert native[-1] < native[0]  # it trained


def test_invalid_inputs() -> None:
    pos = torch.randn(10, 3)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        radius_graph(torch.randn(10, 2), 1.0)
    with pytest.raises(TypeError, match="floating"):
        radius_graph(torch.zeros(10, 3, dtype=torch.long), 1.0)
    bad = pos.clone()
    bad[2, 0], bad[5, 1], bad[5, 2] = float("nan"), float("inf"), float("nan")
    with pytest.raises(ValueError, match="2 row"):
        radius_graph(bad, 1.0)
    for r in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="r must be"):
            radius_graph(pos, r)
    with pytest.raises(ValueError, match="sorted"):
        radius_graph(pos, 1.0, torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]))
    with pytest.raises(ValueError, match="batch must have shape"):
        radius_graph(pos, 1.0, torch.zeros(9, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        radius_graph(pos, 1.0, torch.zeros(10))
    with pytest.raises(ValueError, match="flow"):
        radius_graph(pos, 1.0, flow="both")
    with pytest.raises(ValueError, match="backend"):
        radius_graph(pos, 1.0, backend="scipy")
    with pytest.raises(ValueError, match="max_num_neighbors"):
        radius_graph(pos, 1.0, max_num_neighbors=-1)


@pytest.mark.slow
def test_100k_points() -> None:
    """100k uniform points at mean degree ~24: finishes, every edge is shorter than r, no duplicates."""
    n = 100_000
    pos = torch.rand(n, 3) * (n * 4.19 / 24) ** (1 / 3)
    edges = radius_graph(pos, 1.0, max_num_neighbors=1000, backend="native")
    assert 20 < edges.shape[1] / n < 28
    assert ((pos[edges[0]] - pos[edges[1]]).norm(dim=1) < 1.0 + 1e-6).all()
    assert torch.unique(edges[1] * n + edges[0]).numel() == edges.shape[1]


@pytest.mark.cuda
def test_native_on_cuda_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    pos = torch.randn(3000, 3) * 3
    batch = random_batch(3000, 4)
    cpu = radius_graph(pos, 0.6, batch, max_num_neighbors=16, backend="native")
    cuda = radius_graph(pos.cuda(), 0.6, batch.cuda(), max_num_neighbors=16, backend="native")
    assert torch.equal(cpu, cuda.cpu())
