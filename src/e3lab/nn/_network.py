"""EquivariantConvNet: [Convolution -> Gate] x (num_layers - 1), then a last Convolution (the
symmetry-breaking tutorial's network)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch.profiler import record_function

from e3lab import o3
from e3lab.graph import radius_graph

from ._backbone import check_backbone_inputs
from ._convolution import Convolution
from ._gate import Gate

Act = Callable[[torch.Tensor], torch.Tensor]


def _gate_for(irreps: o3.Irreps, act_scalars: Mapping[int, Act], act_gates: Mapping[int, Act]) -> Gate:
    """A Gate with output ``irreps`` (scalars first): scalars activated, each l > 0 copy gated by a 0e."""
    scalars = o3.Irreps([(mul, ir) for mul, ir in irreps if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in irreps if ir.l > 0])
    gates = o3.Irreps([(gated.num_irreps, "0e")]) if gated.num_irreps else o3.Irreps("")
    return Gate(
        scalars,
        [act_scalars[ir.p] for _, ir in scalars],
        gates,
        [act_gates[1]] * len(gates),
        gated,
    )


class EquivariantConvNet(torch.nn.Module):
    """Gated point-convolution network of the symmetry-breaking tutorial.

    Layers: ``num_layers - 1`` times ``Convolution -> Gate`` (the convolution outputs the Gate's
    ``irreps_in``: scalars, one ``0e`` gate per gated copy, and the gated irreps), then a last
    ``Convolution`` to ``irreps_out``. Every convolution sums over the radius graph of each graph in
    the batch (plus the node itself with ``self_interaction``) and divides by ``sqrt(num_neighbors)``.

    Defaults reproduce the tutorial: hidden = output = ``0e+1o+2e+3o+4e+5o``, 3 layers, a cosine radial
    basis of 3 functions with centres 0, 1.5, 3.0 (``radial_cutoff=False``), radius 3.0, a radial MLP
    with 2 hidden layers of 100 units and softplus(beta=5), softplus(beta=5)/sigmoid gates (normalised by
    ``normalize2mom``), the node itself included, and ``z = 4`` (the tutorial divides by sqrt of its 4
    points). Differences: e3nn 0.6's cosine basis is ``cos(pi d / 2)`` where the tutorial used ``cos^2``.

    Args:
        irreps_in, irreps_hidden, irreps_out: node irreps (strings or ``Irreps``).
        num_layers: number of convolutions (>= 1).
        lmax: degree of the edge spherical harmonics.
        max_radius: graph radius and end of the radial basis.
        radial_basis, radial_number, radial_cutoff: the radial basis (see ``soft_one_hot_linspace``).
        radial_layers, radial_hidden, radial_act: the radial MLP.
        act_scalars: activation per scalar parity ``{1: for 0e, -1: for 0o}`` (an odd-scalar one must be
            even or odd); default ``{1: softplus(beta=5), -1: tanh}``.
        act_gates: activation of the (even) gates ``{1: ...}``; default ``{1: sigmoid}``.
        num_neighbors: ``z`` of every convolution.
        self_interaction: include the ``j = i`` term.
        max_num_neighbors: cap of the radius graph (high by default, so graphs are not truncated).

    Forward: ``x: [N, irreps_in.dim], pos: [N, 3], batch: [N] | None, edge_index: [2, E] | None,
    edge_vec: [E, 3] | None`` -> ``[N, irreps_out.dim]``: a :class:`~e3lab.nn.Backbone`.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps | str = "0e+1o+2e+3o+4e+5o",
        irreps_hidden: o3.Irreps | str = "0e+1o+2e+3o+4e+5o",
        irreps_out: o3.Irreps | str = "0e+1o+2e+3o+4e+5o",
        num_layers: int = 3,
        lmax: int = 5,
        max_radius: float = 3.0,
        radial_basis: str = "cosine",
        radial_number: int = 3,
        radial_cutoff: bool = False,
        radial_layers: int = 2,
        radial_hidden: int = 100,
        radial_act: Act | None = None,
        act_scalars: Mapping[int, Act] | None = None,
        act_gates: Mapping[int, Act] | None = None,
        num_neighbors: float = 4.0,
        self_interaction: bool = True,
        max_num_neighbors: int = 1024,
    ) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers={num_layers!r} must be an int >= 1")
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_hidden = o3.Irreps(irreps_hidden)
        self.irreps_out = o3.Irreps(irreps_out)
        self.max_radius = float(max_radius)
        self.max_num_neighbors = max_num_neighbors
        softplus = torch.nn.Softplus(beta=5)
        act_scalars = dict(act_scalars) if act_scalars is not None else {1: softplus, -1: torch.tanh}
        act_gates = dict(act_gates) if act_gates is not None else {1: torch.sigmoid}
        for name, acts, need in (("act_scalars", act_scalars, (1, -1)), ("act_gates", act_gates, (1,))):
            missing = [p for p in need if p not in acts]
            if missing:
                raise ValueError(
                    f"{name} needs an activation for parity {missing} (keys: 1 = even, -1 = odd)"
                )

        def conv(irreps_a: o3.Irreps, irreps_b: o3.Irreps) -> Convolution:
            return Convolution(
                irreps_a,
                irreps_b,
                num_neighbors=num_neighbors,
                max_radius=max_radius,
                lmax=lmax,
                radial_basis=radial_basis,
                radial_number=radial_number,
                radial_cutoff=radial_cutoff,
                radial_layers=radial_layers,
                radial_hidden=radial_hidden,
                radial_act=radial_act if radial_act is not None else softplus,
                self_interaction=self_interaction,
            )

        self.convs = torch.nn.ModuleList()
        self.gates = torch.nn.ModuleList()
        irreps = self.irreps_in
        for _ in range(num_layers - 1):
            gate = _gate_for(self.irreps_hidden, act_scalars, act_gates)
            self.convs.append(conv(irreps, gate.irreps_in))
            self.gates.append(gate)
            irreps = gate.irreps_out
        self.convs.append(conv(irreps, self.irreps_out))

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        batch: torch.Tensor | None = None,
        edge_index: torch.Tensor | None = None,
        edge_vec: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x: [N, irreps_in.dim]``, ``pos: [N, 3]`` -> ``[N, irreps_out.dim]`` (the ``Backbone`` contract).

        ``batch: [N]`` is the graph of each node (sorted), None for one graph; ``edge_index: [2, E]``
        (source j, target i), or None to build the radius graph of each graph; ``edge_vec: [E, 3]`` replaces
        ``pos[i] - pos[j]`` (periodic images). The spherical harmonics and the radial embedding of the edges
        are computed once and shared by the layers.
        """
        check_backbone_inputs(self, x, pos, batch, edge_index, edge_vec)
        if edge_index is None:
            with record_function("radius_graph"):
                edge_index = radius_graph(
                    pos, self.max_radius, batch, max_num_neighbors=self.max_num_neighbors
                )
        # every convolution has the same harmonics, radial basis and self terms: one EdgeFeatures for all
        edges = self.convs[0].edge_features(pos, edge_index, edge_vec)
        # inputs and graph were checked once above: the layers skip their own checks
        for conv, gate in zip(self.convs[:-1], self.gates, strict=True):
            x = conv(x, pos, edge_index, validate=False, edges=edges)
            with record_function("gate"):
                x = gate(x)
        return self.convs[-1](x, pos, edge_index, validate=False, edges=edges)
