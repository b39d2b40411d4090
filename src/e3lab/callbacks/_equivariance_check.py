"""Measure how far a graph network is from E(3) x permutation equivariance on one batch."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from e3lab.callbacks._graph_inputs import GraphInputs
from e3lab.o3 import rand_matrix

__all__ = [
    "EuclideanTransform",
    "blockwise_relative_error",
    "equivariance_errors",
    "random_transform",
    "relative_error",
]

# A block whose output is much smaller than the whole output is compared with this fraction of the
# whole output's RMS instead of its own, so a (near) zero block cannot turn float noise into a large error.
_FLOOR_FRACTION = 1e-2


class EuclideanTransform(NamedTuple):
    """``pos -> pos @ matrix.T + translation[batch]``, nodes reordered by ``permutation``.

    ``matrix: [3, 3]`` orthogonal (det -1 includes the inversion), ``translation: [num_graphs, 3]``,
    ``permutation: [N]`` (new node ``k`` is old node ``permutation[k]``, always within one graph).
    """

    matrix: torch.Tensor
    translation: torch.Tensor
    permutation: torch.Tensor


def random_transform(inputs: GraphInputs | Any, seed: int, inversion: bool = True) -> EuclideanTransform:
    """A Haar-random rotation (times -1 when ``inversion``), a Gaussian translation per graph and a
    random node permutation within each graph; drawn from ``seed`` without touching the global RNG.

    ``inputs`` is anything with ``pos: [N, 3]`` and ``batch: [N] | None`` (``GraphInputs``, ``AtomsBatch``).
    """
    n = inputs.pos.shape[0]
    batch = _batch_vector(inputs)
    num_graphs = int(batch.max()) + 1 if n > 0 else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        matrix = rand_matrix(dtype=torch.float64)
        translation = torch.randn(num_graphs, 3, dtype=torch.float64)
        keys = torch.rand(n, dtype=torch.float64)
    if inversion:
        matrix = -matrix
    batch_cpu = batch.cpu().to(torch.float64)
    grouped = torch.argsort(batch_cpu, stable=True)  # node positions, grouped by graph
    shuffled = torch.argsort(batch_cpu + 0.5 * keys)  # the same groups, random order inside each
    permutation = torch.empty(n, dtype=torch.long)
    permutation[grouped] = shuffled
    return EuclideanTransform(matrix, translation, permutation)


def transform_inputs(inputs: GraphInputs, transform: EuclideanTransform, irreps_in: Any) -> GraphInputs:
    """Apply ``transform`` to the inputs: ``x`` by ``irreps_in.D_from_matrix``, ``pos`` by the matrix
    and translation, node order by the permutation, ``edge_index`` relabelled to the new order."""
    x, pos = inputs.x, inputs.pos
    perm = transform.permutation.to(pos.device)
    D_in = irreps_in.D_from_matrix(transform.matrix).to(x)
    R = transform.matrix.to(pos)
    batch = _batch_vector(inputs)
    shift = transform.translation.to(pos)[batch]
    new_pos = (pos @ R.T + shift)[perm]
    new_x = (x @ D_in.T)[perm]
    new_batch = None if inputs.batch is None else inputs.batch[perm]
    new_edges = None
    if inputs.edge_index is not None:
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        new_edges = inverse[inputs.edge_index]
    return GraphInputs(new_x, new_pos, new_batch, new_edges)


def blockwise_relative_error(
    output: torch.Tensor, reference: torch.Tensor, irreps_out: Any
) -> dict[str, torch.Tensor]:
    """Relative error of ``output`` against ``reference`` (both ``[N, irreps_out.dim]``) per irreps block.

    For block ``b`` (the ``b``-th ``mul x ir`` of ``irreps_out``):
    ``rms(output_b - reference_b) / max(rms(reference_b), 1e-2 * rms(reference), eps)``, RMS over the
    nodes and components. The floor keeps a block that is (close to) zero on this batch from
    dividing float noise by zero; ``eps`` is the dtype's machine epsilon. Keys are ``"<b>_<ir>"``.
    """
    if output.shape != reference.shape or output.shape[-1] != irreps_out.dim:
        raise ValueError(
            f"output {tuple(output.shape)} and reference {tuple(reference.shape)} must both be "
            f"[N, irreps_out.dim={irreps_out.dim}]"
        )
    eps = torch.finfo(reference.dtype).eps
    floor = max(_FLOOR_FRACTION * _rms(reference).item(), eps)
    errors = {}
    for b, ((_, ir), block) in enumerate(zip(irreps_out, irreps_out.slices(), strict=True)):
        scale = max(_rms(reference[:, block]).item(), floor)
        errors[f"{b}_{ir}"] = _rms(output[:, block] - reference[:, block]) / scale
    return errors


@torch.no_grad()
def equivariance_errors(
    net: torch.nn.Module, inputs: GraphInputs, transform: EuclideanTransform
) -> dict[str, torch.Tensor]:
    """Per-block relative errors ``|f(g x) - g f(x)|`` of ``net`` (see :func:`blockwise_relative_error`).

    ``net`` is called as ``net(x, pos, batch, edge_index)`` in its current mode and dtype, and must
    expose ``irreps_in`` and ``irreps_out``. Returns ``{"<b>_<ir>": scalar tensor}``.
    """
    out = net(*inputs)
    out_g = net(*transform_inputs(inputs, transform, net.irreps_in))
    D_out = net.irreps_out.D_from_matrix(transform.matrix).to(out)
    reference = (out @ D_out.T)[transform.permutation.to(out.device)]
    return blockwise_relative_error(out_g, reference, net.irreps_out)


def relative_error(output: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``rms(output - reference) / max(rms(reference), eps)`` over all entries (``eps``: machine epsilon)."""
    if output.shape != reference.shape:
        raise ValueError(
            f"output {tuple(output.shape)} and reference {tuple(reference.shape)} differ in shape"
        )
    return _rms(output - reference) / max(_rms(reference).item(), torch.finfo(reference.dtype).eps)


def _rms(t: torch.Tensor) -> torch.Tensor:
    return t.pow(2).mean().sqrt() if t.numel() > 0 else t.new_zeros(())


def _batch_vector(inputs: GraphInputs) -> torch.Tensor:
    if inputs.batch is not None:
        return inputs.batch
    return torch.zeros(inputs.pos.shape[0], dtype=torch.long, device=inputs.pos.device)
