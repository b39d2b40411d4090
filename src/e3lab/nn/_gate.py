"""Gate: scalar activations plus sigmoid-like gates multiplying the non-scalar irreps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from e3lab.o3 import Irreps

from ._activation import Activation
from ._extract import Extract

ActList = Sequence[Callable[[torch.Tensor], torch.Tensor] | None]


def _pair_gates(irreps_gated: Irreps, irreps_gates: Irreps) -> Irreps:
    """Irreps of ``gated_k * gate_k`` (k-th copy times k-th scalar), blocks split where either changes.

    Same term structure as e3nn's elementwise product of ``irreps_gated`` by ``irreps_gates``.
    """
    gated = [list(t) for t in irreps_gated.simplify()]
    gates = [list(t) for t in irreps_gates.simplify()]
    out = []
    i = j = 0
    while i < len(gated) and j < len(gates):
        mul = min(gated[i][0], gates[j][0])
        ir_gated, ir_gate = gated[i][1], gates[j][1]
        out.append((mul, (ir_gated.l, ir_gated.p * ir_gate.p)))
        gated[i][0] -= mul
        gates[j][0] -= mul
        i += gated[i][0] == 0
        j += gates[j][0] == 0
    return Irreps(out)


class Gate(torch.nn.Module):
    r"""Gated nonlinearity :math:`(\oplus_i \phi_i(x_i)) \oplus (\oplus_j \phi_j(g_j) y_j)`.

    Args:
        irreps_scalars: scalars ``x`` passed through ``act_scalars``.
        act_scalars: one activation per term of ``irreps_scalars``.
        irreps_gates: scalars ``g``, one per gated irrep copy (``num_irreps`` must match).
        act_gates: one activation per term of ``irreps_gates``.
        irreps_gated: irreps ``y`` multiplied by their activated gate (the gate's parity
            multiplies into theirs).

    ``irreps_in`` is ``(scalars + gates + gated).sort().irreps.simplify()`` as in e3nn; ``irreps_out``
    is ``act_scalars.irreps_out + gated-with-gate-parity``.
    Forward: ``features: [..., irreps_in.dim] -> [..., irreps_out.dim]``. An e3nn Gate's state dict loads
    (its gating product's fixed buffers are skipped).
    """

    def __init__(
        self,
        irreps_scalars: Irreps | str,
        act_scalars: ActList,
        irreps_gates: Irreps | str,
        act_gates: ActList,
        irreps_gated: Irreps | str,
    ) -> None:
        super().__init__()
        irreps_scalars = Irreps(irreps_scalars)
        irreps_gates = Irreps(irreps_gates)
        irreps_gated = Irreps(irreps_gated)
        if len(irreps_scalars) > 0 and irreps_scalars.lmax > 0:
            raise ValueError(f"irreps_scalars={irreps_scalars} must contain only scalars (l = 0)")
        if len(irreps_gates) > 0 and irreps_gates.lmax > 0:
            raise ValueError(f"irreps_gates={irreps_gates} must contain only scalars (l = 0)")
        if irreps_gates.num_irreps != irreps_gated.num_irreps:
            raise ValueError(
                f"irreps_gated={irreps_gated} has {irreps_gated.num_irreps} irreps but irreps_gates="
                f"{irreps_gates} has {irreps_gates.num_irreps} scalars: give one gate per gated irrep"
            )

        parts = [irreps.simplify() for irreps in (irreps_scalars, irreps_gates, irreps_gated)]
        sorted_ = (parts[0] + parts[1] + parts[2]).sort()
        offsets = [0, len(parts[0]), len(parts[0]) + len(parts[1])]
        instructions = [
            tuple(sorted_.p[offset + k] for k in range(len(part)))
            for offset, part in zip(offsets, parts, strict=True)
        ]
        self.sc = Extract(sorted_.irreps, parts, instructions)
        self.irreps_scalars, self.irreps_gates, self.irreps_gated = parts
        self._irreps_in = sorted_.irreps.simplify()

        self.act_scalars = Activation(irreps_scalars, act_scalars)
        self.act_gates = Activation(irreps_gates, act_gates)
        gated_out = _pair_gates(irreps_gated, self.act_gates.irreps_out)
        self._irreps_out = self.act_scalars.irreps_out + gated_out
        # gate index of every gated component: copy k of the gated irreps uses gate scalar k
        copy_dims = torch.tensor([ir.dim for mul, ir in irreps_gated for _ in range(mul)], dtype=torch.long)
        self.register_buffer(
            "_gate_index", torch.repeat_interleave(torch.arange(len(copy_dims)), copy_dims), persistent=False
        )

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # e3nn's Gate holds its gating product as a submodule ``mul``, whose two buffers (an empty weight and
        # an output mask, both fixed by the irreps) are in e3nn checkpoints; they carry nothing to load here
        for name in ("mul.weight", "mul.output_mask"):
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def irreps_in(self) -> Irreps:
        """Input layout: ``(scalars + gates + gated).sort().irreps.simplify()``."""
        return self._irreps_in

    @property
    def irreps_out(self) -> Irreps:
        """Output layout: activated scalars, then the gated irreps."""
        return self._irreps_out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features: [..., irreps_in.dim] -> [..., irreps_out.dim]``."""
        if features.shape[-1] != self._irreps_in.dim:
            raise ValueError(
                f"Gate expects features of shape [..., {self._irreps_in.dim}] (irreps_in={self._irreps_in}), "
                f"got {list(features.shape)}"
            )
        scalars, gates, gated = self.sc(features)
        scalars = self.act_scalars(scalars)
        if gates.shape[-1] == 0:
            return scalars
        gates = self.act_gates(gates)
        gated = gated * gates.index_select(-1, self._gate_index)
        return torch.cat([scalars, gated], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__} ({self.irreps_in} -> {self.irreps_out})"
