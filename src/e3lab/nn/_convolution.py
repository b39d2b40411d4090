r"""The seed convolution :math:`f'_i = z^{-1/2} \sum_{j \in N(i)} f_j \otimes(h(|x_{ij}|)) Y(\hat x_{ij})`."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.profiler import record_function

from e3lab import _value_checks, o3
from e3lab.graph import scatter
from e3lab.math import soft_one_hot_linspace

from ._edges import EdgeFeatures, channelwise_paths, edge_features
from ._fc import FullyConnectedNet

# Profiler range names of the stages of a convolution network, in execution order; the timing
# callback imports this tuple. Each stage's forward runs inside torch.profiler.record_function(name);
# its backward ops carry the autograd sequence numbers of the forward ops that created them, which is
# how a profile attributes backward time to the stages (radius_graph has no backward).
STAGES = (
    "radius_graph",
    "spherical_harmonics",
    "radial_embedding",
    "radial_mlp",
    "tensor_product",
    "scatter",
    "gate",
)


class ConvolutionStages(NamedTuple):
    """Intermediate tensors of one :class:`Convolution` evaluation (``E`` edges incl. self terms)."""

    edge_src: torch.Tensor  # [E] source node j of each summed term
    edge_dst: torch.Tensor  # [E] target node i
    edge_vec: torch.Tensor  # [E, 3] x_ij = pos_i - pos_j
    sh: torch.Tensor  # [E, irreps_sh.dim] Y(x_ij / |x_ij|), component normalisation
    embedding: torch.Tensor  # [E, radial_number] radial basis times sqrt(radial_number)
    weight: torch.Tensor  # [E, tp.weight_numel] h(|x_ij|)
    summand: torch.Tensor  # [E, irreps_out.dim] f_j (x)(h) Y
    output: torch.Tensor  # [N, irreps_out.dim]


def check_edge_index(edge_index: torch.Tensor, num_nodes: int) -> None:
    """Raise unless ``edge_index`` is an integer ``[2, E]`` tensor with indices in ``[0, num_nodes)``."""
    if not isinstance(edge_index, torch.Tensor) or edge_index.dim() != 2 or edge_index.shape[0] != 2:
        shape = list(edge_index.shape) if isinstance(edge_index, torch.Tensor) else type(edge_index).__name__
        raise ValueError(f"edge_index must be a [2, E] tensor (source row, target row), got {shape}")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise TypeError(
            f"edge_index must be an integer tensor, got {edge_index.dtype}; use edge_index.long()"
        )
    if not _value_checks.values_checkable(edge_index):
        return  # GPU: checked where the batch was made (reading it here would stall the host)
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(
            f"edge_index has indices in [{int(edge_index.min())}, {int(edge_index.max())}] "
            f"but there are {num_nodes} nodes: indices must lie in [0, {num_nodes - 1}]"
        )


class Convolution(torch.nn.Module):
    r"""The convolution guide's point convolution:
    :math:`f'_i = z^{-1/2} \sum_j f_j \otimes(h(|x_{ij}|)) Y(\hat x_{ij})`.

    ``x_ij = pos_i - pos_j`` for an edge ``j -> i`` (``edge_index[0] = j``, ``edge_index[1] = i``), or the
    given ``edge_vec`` (periodic images). ``Y`` are the spherical harmonics ``0e + 1o + 2e + ...`` up to
    ``lmax`` (component normalisation); ``h`` is a :class:`FullyConnectedNet` on the radial embedding
    ``soft_one_hot_linspace(|x_ij|, 0, max_radius, ...) * sqrt(radial_number)``, giving the per-edge weights
    of the product.

    Two products: ``connection="fully_connected"`` (the convolution guide) is a
    ``FullyConnectedTensorProduct(irreps_in, irreps_sh, irreps_out, shared_weights=False)``;
    ``connection="channelwise"`` (NequIP's convolution) has one ``uvu`` path per input term, harmonic and
    reachable output irrep, each into its own output term (see :func:`channelwise_paths`): there
    ``irreps_out`` only selects the output irreps, and ``self.irreps_out`` is the product's layout, to be
    mixed by a following ``o3.Linear``.

    Args:
        irreps_in: node input irreps.
        irreps_out: node output irreps (the wanted irreps with ``connection="channelwise"``).
        num_neighbors: ``z``, the average number of terms summed per node (average degree, plus one
            with ``self_interaction``); see :func:`average_num_neighbors`.
        max_radius: end of the radial basis (and the graph's cutoff radius).
        lmax: largest degree of the spherical harmonics.
        radial_basis: basis of :func:`~e3lab.math.soft_one_hot_linspace`, or ``None`` when the caller always
            passes precomputed ``edges`` (whose ``embedding`` has ``radial_number`` columns).
        radial_number: number of radial basis functions.
        radial_cutoff: ``cutoff`` flag of the radial basis.
        radial_layers: number of hidden layers of the radial MLP.
        radial_hidden: width of each hidden layer.
        radial_act: activation of the radial MLP (normalised by ``normalize2mom``).
        self_interaction: also sum the ``j = i`` term (zero edge vector, where ``Y`` is ``Y0`` only).
        connection: ``"fully_connected"`` or ``"channelwise"``.

    Forward: ``x: [N, irreps_in.dim], pos: [N, 3], edge_index: [2, E] -> [N, irreps_out.dim]``.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps | str,
        irreps_out: o3.Irreps | str,
        num_neighbors: float,
        max_radius: float,
        lmax: int = 2,
        radial_basis: str | None = "smooth_finite",
        radial_number: int = 10,
        radial_cutoff: bool = True,
        radial_layers: int = 1,
        radial_hidden: int = 16,
        radial_act: Callable[[torch.Tensor], torch.Tensor] | None = torch.relu,
        self_interaction: bool = False,
        connection: str = "fully_connected",
    ) -> None:
        super().__init__()
        if not num_neighbors > 0:
            raise ValueError(
                f"num_neighbors={num_neighbors!r} must be > 0 (the average number of summed terms)"
            )
        if not max_radius > 0:
            raise ValueError(f"max_radius={max_radius!r} must be > 0")
        if not isinstance(lmax, int) or lmax < 0:
            raise ValueError(f"lmax={lmax!r} must be an int >= 0")
        if not isinstance(radial_layers, int) or radial_layers < 0:
            raise ValueError(
                f"radial_layers={radial_layers!r} must be an int >= 0 (hidden layers of the MLP)"
            )
        if connection not in ("fully_connected", "channelwise"):
            raise ValueError(f"connection={connection!r} must be 'fully_connected' or 'channelwise'")
        if self_interaction and radial_basis == "bessel":
            raise ValueError(
                "radial_basis='bessel' is infinite at distance 0, so it cannot embed the self-interaction "
                "term: use another basis or self_interaction=False"
            )
        if radial_basis is not None:
            # evaluate the basis once to validate basis/number/cutoff with soft_one_hot_linspace's messages
            soft_one_hot_linspace(torch.ones(1), 0.0, max_radius, radial_number, radial_basis, radial_cutoff)

        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.num_neighbors = float(num_neighbors)
        self.max_radius = float(max_radius)
        self.radial_basis = radial_basis
        self.radial_number = radial_number
        self.radial_cutoff = radial_cutoff
        self.self_interaction = self_interaction
        self.connection = connection
        if connection == "channelwise":
            irreps_mid, instructions = channelwise_paths(
                self.irreps_in, self.irreps_sh, o3.Irreps(irreps_out)
            )
            self.irreps_out = irreps_mid
            self.tp: o3.TensorProduct = o3.TensorProduct(
                self.irreps_in, self.irreps_sh, irreps_mid, instructions, shared_weights=False
            )
        else:
            self.irreps_out = o3.Irreps(irreps_out)
            self.tp = o3.FullyConnectedTensorProduct(
                self.irreps_in, self.irreps_sh, self.irreps_out, shared_weights=False
            )
        hs = [radial_number] + [radial_hidden] * radial_layers + [self.tp.weight_numel]
        self.fc = FullyConnectedNet(hs, radial_act)

    def radial_embedding(self, length: torch.Tensor) -> torch.Tensor:
        """``length: [E] -> [E, radial_number]``, the radial basis scaled by ``sqrt(radial_number)``."""
        if self.radial_basis is None:
            raise ValueError(
                "this Convolution has no radial basis of its own (radial_basis=None): pass the precomputed "
                "edges=EdgeFeatures(...) to forward, or build it with a radial_basis"
            )
        emb = soft_one_hot_linspace(
            length, 0.0, self.max_radius, self.radial_number, self.radial_basis, self.radial_cutoff
        )
        return emb * self.radial_number**0.5

    def edge_features(
        self, pos: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor | None = None
    ) -> EdgeFeatures:
        """This convolution's :class:`EdgeFeatures` (its self terms, harmonics and radial embedding).

        ``pos: [N, 3]``, ``edge_index: [2, E]``, ``edge_vec: [E, 3]`` replacing ``pos[i] - pos[j]``. Pass
        the result as ``edges=`` to every layer with the same ``lmax``, radial basis and self terms.
        """
        return edge_features(
            self.irreps_sh, self.radial_embedding, pos, edge_index, edge_vec, self.self_interaction
        )

    def stages(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        edge_index: torch.Tensor,
        validate: bool = True,
        edge_vec: torch.Tensor | None = None,
        edges: EdgeFeatures | None = None,
    ) -> ConvolutionStages:
        """Evaluate the convolution, returning every intermediate (see :class:`ConvolutionStages`).

        ``x: [N, irreps_in.dim]``, ``pos: [N, 3]``, ``edge_index: [2, E]`` (source j, target i);
        ``edge_vec`` and ``edges`` as in :meth:`forward`. ``validate=False`` skips the shape and index checks
        (each index check is a device sync): for callers that checked the graph once for several layers, as
        :class:`EquivariantConvNet` does.
        """
        num_nodes = self._check(x, pos, edge_index, edge_vec, edges) if validate else pos.shape[0]
        if edges is None:
            edges = self.edge_features(pos, edge_index, edge_vec)
        with record_function("radial_mlp"):
            weight = self.fc(edges.embedding)
        with record_function("tensor_product"):
            summand = self.tp(x[edges.src], edges.sh, weight)
        with record_function("scatter"):
            output = scatter(summand, edges.dst, dim=0, dim_size=num_nodes) / self.num_neighbors**0.5
        return ConvolutionStages(
            edges.src, edges.dst, edges.vec, edges.sh, edges.embedding, weight, summand, output
        )

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        edge_index: torch.Tensor,
        validate: bool = True,
        edge_vec: torch.Tensor | None = None,
        edges: EdgeFeatures | None = None,
    ) -> torch.Tensor:
        """``x: [N, irreps_in.dim]``, ``pos: [N, 3]``, ``edge_index: [2, E]`` -> ``[N, irreps_out.dim]``.

        ``edge_vec: [E, 3]`` replaces ``pos[i] - pos[j]`` (periodic images); ``edges`` (from
        :meth:`edge_features` or :func:`~e3lab.nn._edges.edge_features`) replaces the edge computations
        altogether, so that layers share them. The same numbers as ``stages(...).output``, computed without
        keeping the intermediates: the gather of ``x[src]``, the radial MLP's last layer, the product and the
        scatter into the targets are one call (:meth:`~e3lab.o3.TensorProduct.convolve`); on the native CPU
        path none of the ``[E, ...]`` tensors between them is stored, and their time counts as
        ``tensor_product`` (``scatter`` stays empty).
        """
        num_nodes = self._check(x, pos, edge_index, edge_vec, edges) if validate else pos.shape[0]
        if edges is None:
            edges = self.edge_features(pos, edge_index, edge_vec)
        with record_function("radial_mlp"):
            hidden, matrix = self.fc.hidden_and_last_matrix(edges.embedding)
        with record_function("tensor_product"):
            if self.tp.fused_convolution_applies(x, edges.sh, hidden, matrix):  # gather, product, scatter
                out = self.tp.convolve(x, edges.sh, hidden, matrix, edges.src, edges.dst, num_nodes)
                return out / self.num_neighbors**0.5
            summand = self.tp.forward_with_weight_matrix(x[edges.src], edges.sh, hidden, matrix)
        with record_function("scatter"):
            return scatter(summand, edges.dst, dim=0, dim_size=num_nodes) / self.num_neighbors**0.5

    def _check(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        edge_index: torch.Tensor,
        edge_vec: torch.Tensor | None,
        edges: EdgeFeatures | None,
    ) -> int:
        if pos.dim() != 2 or pos.shape[1] != 3:
            raise ValueError(f"pos must have shape [N, 3], got {list(pos.shape)}")
        num_nodes = pos.shape[0]
        if x.shape != (num_nodes, self.irreps_in.dim):
            raise ValueError(
                f"x must have shape [N, irreps_in.dim] = [{num_nodes}, {self.irreps_in.dim}] "
                f"(irreps_in={self.irreps_in}, N from pos), got {list(x.shape)}"
            )
        check_edge_index(edge_index, num_nodes)
        if edge_vec is not None and edge_vec.shape != (edge_index.shape[1], 3):
            raise ValueError(
                f"edge_vec must have shape [E, 3] = [{edge_index.shape[1]}, 3] (one vector per edge of "
                f"edge_index), got {list(edge_vec.shape)}"
            )
        if edges is not None:
            num_terms = edges.src.shape[0]
            if edges.sh.shape != (num_terms, self.irreps_sh.dim) or edges.embedding.shape != (
                num_terms,
                self.radial_number,
            ):
                raise ValueError(
                    f"edges has sh {list(edges.sh.shape)} and embedding {list(edges.embedding.shape)}; this "
                    f"convolution needs [{num_terms}, {self.irreps_sh.dim}] (irreps_sh={self.irreps_sh}) "
                    f"and [{num_terms}, {self.radial_number}] (radial_number)"
                )
        return num_nodes

    def extra_repr(self) -> str:
        return (
            f"{self.irreps_in} -> {self.irreps_out}, sh={self.irreps_sh}, z={self.num_neighbors:g}, "
            f"radial={self.radial_basis}x{self.radial_number} up to {self.max_radius:g}, "
            f"self_interaction={self.self_interaction}, connection={self.connection}"
        )
