"""``radius_graph``: edges between points closer than a cutoff, with torch_cluster's conventions."""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

from e3lab import _value_checks
from e3lab.graph._cell_list import canonical_edges, radius_graph_native, squared_distances

_BACKENDS = ("auto", "native", "torch_cluster")
# torch_cluster is asked for neighbours within r * (1 + _SEARCH_PAD), a superset of the canonical set,
# which is then decided by the shared distance formula
_SEARCH_PAD = 1e-5
# first per-target bound asked of torch_cluster; doubled while some target fills it
_FIRST_BOUND = 64
_FLOWS = ("source_to_target", "target_to_source")


def _torch_cluster_supports(device: torch.device) -> bool:
    """Whether torch_cluster is importable and was built for ``device``'s type."""
    if importlib.util.find_spec("torch_cluster") is None:
        return False
    import torch_cluster  # noqa: F401  (registers torch.ops.torch_cluster)

    if device.type == "cpu":
        return True
    return device.type == "cuda" and torch.ops.torch_cluster.cuda_version() != -1


def _check_inputs(pos: Tensor, r: float, batch: Tensor | None, max_num_neighbors: int, flow: str) -> None:
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.shape[1] != 3:
        shape = tuple(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ValueError(f"pos must be a [N, 3] tensor, got {shape}")
    if not pos.is_floating_point():
        raise TypeError(f"pos must be floating point, got {pos.dtype}; convert it with pos.float()")
    values = _value_checks.values_checkable(pos)  # on a GPU the graph search syncs anyway; not these checks
    bad = int((~torch.isfinite(pos).all(dim=1)).sum()) if values else 0
    if bad:
        raise ValueError(f"pos has {bad} row(s) with NaN or Inf; remove or fix those points")
    if not isinstance(r, (int, float)) or isinstance(r, bool) or not r > 0 or r == float("inf"):
        raise ValueError(f"r must be a finite number > 0, got {r!r}")
    if not isinstance(max_num_neighbors, int) or max_num_neighbors < 0:
        raise ValueError(f"max_num_neighbors must be an int >= 0, got {max_num_neighbors!r}")
    if flow not in _FLOWS:
        raise ValueError(f"flow must be one of {_FLOWS}, got {flow!r}")
    if batch is None:
        return
    if not isinstance(batch, Tensor) or tuple(batch.shape) != (pos.shape[0],):
        shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise ValueError(f"batch must have shape [N] = ({pos.shape[0]},) like pos, got {shape}")
    if batch.dtype.is_floating_point or batch.dtype == torch.bool or batch.is_complex():
        raise TypeError(f"batch must be an integer tensor, got {batch.dtype}; convert it with batch.long()")
    if batch.device != pos.device:
        raise ValueError(f"batch is on {batch.device} but pos is on {pos.device}; move them to one device")
    if values and batch.numel() > 1 and not bool((batch[1:] >= batch[:-1]).all()):
        raise ValueError("batch must be sorted (nodes of each graph contiguous); sort the nodes by graph")


def radius_graph(
    pos: Tensor,
    r: float,
    batch: Tensor | None = None,
    loop: bool = False,
    max_num_neighbors: int = 32,
    flow: str = "source_to_target",
    backend: str = "auto",
) -> Tensor:
    """Edges between points of the same graph closer than ``r``, as ``torch_cluster.radius_graph``.

    Args:
        pos: [N, 3] finite positions (float32 or float64, CPU or CUDA).
        r: cutoff > 0; an edge j -> i exists when ``|pos_i - pos_j| < r`` (strict, as torch_cluster,
            compared on squared distances in ``pos``'s dtype).
        batch: [N] graph index of each node, sorted; ``None`` means one graph.
        loop: also add the self edges i -> i.
        max_num_neighbors: at most this many sources per target: the nearest ones (ties: lower
            source index), with either backend.
        flow: ``"source_to_target"`` gives ``edge_index[0]`` = source j (the neighbour) and
            ``edge_index[1]`` = target i (the centre); ``"target_to_source"`` swaps the two rows.
        backend: ``"native"`` (pure torch cell list), ``"torch_cluster"``, or ``"auto"``:
            torch_cluster when importable and built for ``pos``'s device, else native. Both give the same
            graph: torch_cluster only proposes candidates, which the shared distance test, nearest-k rule
            and order then turn into the canonical edge list.

    Returns:
        edge_index: [2, E] int64, sorted by target, then source (the same tensor from both backends).
    """
    _check_inputs(pos, r, batch, max_num_neighbors, flow)
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "torch_cluster" and not _torch_cluster_supports(pos.device):
        raise ValueError(
            f"backend='torch_cluster' but torch_cluster is not installed for {pos.device.type}; "
            "install torch-cluster or use backend='native'"
        )
    if pos.shape[0] == 0:
        return torch.empty(2, 0, dtype=torch.long, device=pos.device)
    batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device) if batch is None else batch.long()
    if backend == "torch_cluster" or (backend == "auto" and _torch_cluster_supports(pos.device)):
        edge_index = _radius_graph_torch_cluster(pos, float(r), batch, loop, max_num_neighbors)
    else:
        edge_index = radius_graph_native(pos, float(r), batch, loop, max_num_neighbors)
    return edge_index if flow == "source_to_target" else edge_index.flip(0)


def _radius_graph_torch_cluster(
    pos: Tensor, r: float, batch: Tensor, loop: bool, max_num_neighbors: int
) -> Tensor:
    """The canonical radius graph with torch_cluster finding the candidates (see :func:`radius_graph`).

    torch_cluster keeps an arbitrary subset when a target has more neighbours than its bound, so it is
    asked with a bound that no target fills (doubled until then), and the nearest-k cut is made here.
    """
    import torch_cluster

    num_nodes = pos.shape[0]
    bound = min(max(_FIRST_BOUND, max_num_neighbors + 1), num_nodes)
    while True:
        source, target = torch_cluster.radius_graph(pos, r * (1 + _SEARCH_PAD), batch, loop, bound)
        if bound >= num_nodes or source.numel() == 0 or int(torch.bincount(target).max()) < bound:
            break
        bound = min(2 * bound, num_nodes)
    dist2 = squared_distances(pos, source, target)
    close = dist2 < r * r
    return canonical_edges(source[close], target[close], dist2[close], max_num_neighbors, num_nodes)
