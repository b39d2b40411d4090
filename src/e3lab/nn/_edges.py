"""What a convolution needs of the edges of a graph, computed once per forward and shared by its layers."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.profiler import record_function

from e3lab import o3


class EdgeFeatures(NamedTuple):
    """The summed terms of a convolution: edges ``j -> i`` (plus self terms where a layer asks for them).

    Layers with the same spherical harmonics and radial embedding take one ``EdgeFeatures`` each forward,
    so that both are computed once per forward rather than once per layer.
    """

    src: torch.Tensor  # [E] int64 source node j of each term
    dst: torch.Tensor  # [E] int64 target node i
    vec: torch.Tensor  # [E, 3] x_ij = pos_i - pos_j (+ a lattice vector for a periodic image)
    sh: torch.Tensor  # [E, irreps_sh.dim] Y(x_ij / |x_ij|), component normalisation
    embedding: torch.Tensor  # [E, radial_number] radial embedding of |x_ij|


def edge_features(
    irreps_sh: o3.Irreps,
    radial_embedding: Callable[[torch.Tensor], torch.Tensor],
    pos: torch.Tensor,
    edge_index: torch.Tensor,
    edge_vec: torch.Tensor | None = None,
    self_terms: bool = False,
) -> EdgeFeatures:
    """:class:`EdgeFeatures` of the graph ``edge_index: [2, E]`` (source j, target i) on ``pos: [N, 3]``.

    ``edge_vec: [E, 3]``, when given, replaces ``pos[i] - pos[j]`` (periodic images: ``pos[i] - pos[j] +
    shift @ cell``). ``self_terms`` appends one ``j = i`` term per node with a zero vector (a constant, so
    no gradient flows through it). ``radial_embedding``: ``lengths [E] -> [E, number]``.
    Recorded as the ``spherical_harmonics`` and ``radial_embedding`` profiler stages.
    """
    src, dst = edge_index[0].long(), edge_index[1].long()
    with record_function("spherical_harmonics"):
        vec = pos[dst] - pos[src] if edge_vec is None else edge_vec
        if self_terms:
            loops = torch.arange(pos.shape[0], device=src.device)
            src, dst = torch.cat([src, loops]), torch.cat([dst, loops])
            vec = torch.cat([vec, vec.new_zeros(pos.shape[0], 3)])
        sh = o3.spherical_harmonics(irreps_sh, vec, normalize=True, normalization="component")
    with record_function("radial_embedding"):
        embedding = radial_embedding(vec.norm(dim=1))
    return EdgeFeatures(src, dst, vec, sh, embedding)


def channelwise_paths(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_wanted: o3.Irreps
) -> tuple[o3.Irreps, list[tuple[int, int, int, str, bool]]]:
    """Output irreps and instructions of a channelwise (``uvu``) product ``irreps_in x irreps_sh``.

    Every input term ``mul x ir_in`` and harmonic ``ir_sh`` gives one weighted path per ``ir_out`` in
    ``ir_in * ir_sh`` that appears in ``irreps_wanted`` (multiplicities there are ignored), into its own
    output term ``mul x ir_out``. The output terms are sorted by irrep (as NequIP does).
    """
    wanted = {ir for _, ir in irreps_wanted}
    terms, paths = [], []
    for i_in, (mul, ir_in) in enumerate(irreps_in):
        for i_sh, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out in wanted:
                    paths.append((i_in, i_sh, len(terms)))
                    terms.append((mul, ir_out))
    if not terms:
        raise ValueError(
            f"no channelwise path from {irreps_in} x {irreps_sh} reaches any of {irreps_wanted}: "
            "raise lmax or include reachable irreps"
        )
    ordered = o3.Irreps(terms).sort()
    instructions = [(i_in, i_sh, ordered.p[k], "uvu", True) for i_in, i_sh, k in paths]
    return ordered.irreps, instructions
