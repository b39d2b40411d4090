"""NequIPNet: NequIP's interaction stack (species self-connection, linear, channelwise convolution, gate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch.profiler import record_function

from e3lab import o3
from e3lab.graph import radius_graph

from ._backbone import check_backbone_inputs
from ._convolution import Convolution
from ._edges import EdgeFeatures, edge_features
from ._gate import Gate
from ._radial import BesselEmbedding

Act = Callable[[torch.Tensor], torch.Tensor]


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    """``softplus(x) - log 2`` (SchNet's ``ssp``): zero at zero."""
    return torch.nn.functional.softplus(x) - 0.6931471805599453


ACTIVATIONS: dict[str, Act] = {
    "silu": torch.nn.functional.silu,
    "ssp": shifted_softplus,
    "tanh": torch.tanh,
    "abs": torch.abs,
    "sigmoid": torch.sigmoid,
}


def _activations(names: Mapping[str, str], what: str) -> dict[int, Act]:
    """``{"e": "silu", "o": "tanh"}`` -> ``{1: silu, -1: tanh}``, naming a bad key or function."""
    acts = {}
    for parity, sign in (("e", 1), ("o", -1)):
        name = names.get(parity)
        if name not in ACTIVATIONS:
            raise ValueError(
                f"{what}[{parity!r}]={name!r}: give one of {sorted(ACTIVATIONS)} for parity 'e' and for 'o'"
            )
        acts[sign] = ACTIVATIONS[name]
    return acts


def _reachable(irreps_in: o3.Irreps, irreps_sh: o3.Irreps, ir: o3.Irrep) -> bool:
    """Whether some ``ir_in x ir_sh`` contains ``ir``."""
    return any(ir in ir_in * ir_sh for _, ir_in in irreps_in for _, ir_sh in irreps_sh)


class InteractionLayer(torch.nn.Module):
    """One NequIP layer: ``gate(linear_2(conv(linear_1(h))) + self_connection(h, species))`` (+ ``h``).

    The gate's irreps are the hidden irreps reachable from ``irreps_in x irreps_sh`` (scalars activated,
    ``l > 0`` copies gated by a ``0e`` scalar each, ``0o`` where no ``0e`` is reachable). The species
    self-connection is a ``FullyConnectedTensorProduct(irreps_in, irreps_attr)``; the convolution is the
    channelwise :class:`Convolution` on precomputed :class:`EdgeFeatures`.

    Forward: ``h: [N, irreps_in.dim], attrs: [N, irreps_attr.dim], pos: [N, 3], edge_index: [2, E],
    edges`` -> ``[N, irreps_out.dim]``.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_attr: o3.Irreps,
        irreps_hidden: o3.Irreps,
        conv_args: dict,
        act_scalars: dict[int, Act],
        act_gates: dict[int, Act],
        resnet: bool,
    ) -> None:
        super().__init__()
        irreps_sh = o3.Irreps.spherical_harmonics(conv_args["lmax"])
        reachable = [(mul, ir) for mul, ir in irreps_hidden if _reachable(irreps_in, irreps_sh, ir)]
        scalars = o3.Irreps([(mul, ir) for mul, ir in reachable if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in reachable if ir.l > 0])
        gate_ir = "0e" if _reachable(irreps_in, irreps_sh, o3.Irrep("0e")) else "0o"
        gates = o3.Irreps([(mul, gate_ir) for mul, _ in gated])
        self.gate = Gate(
            scalars,
            [act_scalars[ir.p] for _, ir in scalars],
            gates,
            [act_gates[ir.p] for _, ir in gates],
            gated,
        )
        self.irreps_in, self.irreps_out = irreps_in, self.gate.irreps_out
        self.self_connection = o3.FullyConnectedTensorProduct(irreps_in, irreps_attr, self.gate.irreps_in)
        self.linear_1 = o3.Linear(irreps_in, irreps_in)
        self.conv = Convolution(irreps_in, self.gate.irreps_in, connection="channelwise", **conv_args)
        self.linear_2 = o3.Linear(self.conv.irreps_out, self.gate.irreps_in)
        self.resnet = resnet and self.irreps_in == self.irreps_out

    def forward(
        self,
        h: torch.Tensor,
        attrs: torch.Tensor,
        pos: torch.Tensor,
        edge_index: torch.Tensor,
        edges: EdgeFeatures,
    ) -> torch.Tensor:
        skip = self.self_connection(h, attrs)
        out = self.conv(self.linear_1(h), pos, edge_index, validate=False, edges=edges)
        out = self.linear_2(out) + skip
        with record_function("gate"):
            out = self.gate(out)
        return h + out if self.resnet else out


class NequIPNet(torch.nn.Module):
    """NequIP's interaction network (Batzner et al. 2022), built from e3lab's own modules.

    ``x`` (one-hot species, ``irreps_in = "{n}x0e"``) -> ``o3.Linear`` to ``num_features x 0e`` ->
    ``num_layers`` :class:`InteractionLayer` -> ``o3.Linear`` to ``irreps_out`` (``1x0e``: an energy per
    atom). The hidden irreps are ``num_features x l`` for ``l <= lmax``, with both parities when ``parity``
    (NequIP's ``parity: true``), even ``l`` even and odd ``l`` odd otherwise. The edges' spherical harmonics
    (``lmax``, component normalisation) and radial embedding (:class:`BesselEmbedding`: ``radial_number``
    Bessel functions times a polynomial envelope of order ``radial_p``) are computed once per forward and
    shared by the layers; each layer's radial MLP (``radial_layers`` x ``radial_hidden``, SiLU) maps them to
    the weights of its channelwise convolution, whose sum over neighbours is divided by
    ``sqrt(avg_num_neighbors)``.

    Defaults are the tutorial size of NequIP: 4 layers, ``lmax`` 1, 32 features, radial MLP depth 2 and
    width 64, 8 Bessel functions, ``p = 6``, parity.

    Args:
        irreps_in: irreps of ``x`` (even scalars: one-hot species or other per-atom attributes).
        irreps_out: irreps of the output (scalars and/or irreps reachable by the last layer).
        num_layers, lmax, num_features, parity: as above.
        max_radius: the cutoff (and the radius graph's, when no edges are given).
        avg_num_neighbors: mean number of neighbours in the training data (``z``).
        radial_number, radial_p, radial_trainable: the Bessel embedding.
        radial_layers, radial_hidden: the radial MLP.
        resnet: add each layer's input to its output where their irreps are equal.
        nonlinearity_scalars, nonlinearity_gates: activation by parity, ``{"e": "silu", "o": "tanh"}``
            (names: silu, ssp, tanh, abs, sigmoid).
        max_num_neighbors: cap of the radius graph built when ``edge_index`` is None.

    Forward: the :class:`~e3lab.nn.Backbone` contract, ``(x, pos, batch, edge_index, edge_vec)`` ->
    ``[N, irreps_out.dim]``.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps | str,
        irreps_out: o3.Irreps | str = "1x0e",
        num_layers: int = 4,
        lmax: int = 1,
        num_features: int = 32,
        parity: bool = True,
        max_radius: float = 5.0,
        avg_num_neighbors: float = 1.0,
        radial_number: int = 8,
        radial_p: float = 6.0,
        radial_trainable: bool = True,
        radial_layers: int = 2,
        radial_hidden: int = 64,
        resnet: bool = False,
        nonlinearity_scalars: Mapping[str, str] | None = None,
        nonlinearity_gates: Mapping[str, str] | None = None,
        max_num_neighbors: int = 1024,
    ) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        if any(ir != o3.Irrep("0e") for _, ir in self.irreps_in) or self.irreps_in.dim == 0:
            raise ValueError(
                f"irreps_in={self.irreps_in}: NequIPNet reads per-atom attributes as even scalars, "
                "e.g. '3x0e' for one-hot species of 3 elements"
            )
        for name, value in (("num_layers", num_layers), ("num_features", num_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1")
        if not isinstance(lmax, int) or lmax < 0:
            raise ValueError(f"lmax={lmax!r} must be an int >= 0")
        self.max_radius = float(max_radius)
        self.max_num_neighbors = max_num_neighbors
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        parities = (1, -1) if parity else (None,)
        self.irreps_hidden = o3.Irreps(
            [(num_features, (l, (-1) ** l if p is None else p)) for l in range(lmax + 1) for p in parities]
        )
        act_scalars = _activations(nonlinearity_scalars or {"e": "silu", "o": "tanh"}, "nonlinearity_scalars")
        act_gates = _activations(nonlinearity_gates or {"e": "silu", "o": "tanh"}, "nonlinearity_gates")
        self.radial = BesselEmbedding(max_radius, radial_number, radial_p, radial_trainable)
        conv_args = {
            "num_neighbors": avg_num_neighbors,
            "max_radius": max_radius,
            "lmax": lmax,
            "radial_basis": None,
            "radial_number": radial_number,
            "radial_layers": radial_layers,
            "radial_hidden": radial_hidden,
            "radial_act": torch.nn.functional.silu,
        }
        self.embedding = o3.Linear(self.irreps_in, o3.Irreps([(num_features, "0e")]))
        self.layers = torch.nn.ModuleList()
        irreps = self.embedding.irreps_out
        for _ in range(num_layers):
            layer = InteractionLayer(
                irreps, self.irreps_in, self.irreps_hidden, conv_args, act_scalars, act_gates, resnet
            )
            self.layers.append(layer)
            irreps = layer.irreps_out
        missing = [str(ir) for _, ir in self.irreps_out if ir not in irreps]
        if missing:
            raise ValueError(
                f"irreps_out={self.irreps_out} needs {missing}, which the last layer ({irreps}) does not "
                "produce: raise lmax or set parity=True"
            )
        self.readout = o3.Linear(irreps, self.irreps_out)

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        batch: torch.Tensor | None = None,
        edge_index: torch.Tensor | None = None,
        edge_vec: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x: [N, irreps_in.dim]``, ``pos: [N, 3]`` -> ``[N, irreps_out.dim]`` (see :class:`Backbone`)."""
        check_backbone_inputs(self, x, pos, batch, edge_index, edge_vec)
        if edge_index is None:
            with record_function("radius_graph"):
                edge_index = radius_graph(
                    pos, self.max_radius, batch, max_num_neighbors=self.max_num_neighbors
                )
        edges = edge_features(self.irreps_sh, self.radial, pos, edge_index, edge_vec)
        h = self.embedding(x)
        for layer in self.layers:
            h = layer(h, x, pos, edge_index, edges)
        return self.readout(h)
