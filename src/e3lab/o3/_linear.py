"""``Linear``: the O(3)-equivariant linear map between irreps layouts (e3nn's API, weights and numbers)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch

from e3lab.o3._errors import InstructionError, InstructionIndexError, WeightError
from e3lab.o3._irreps import Irreps

__all__ = ["Linear"]


class Instruction(NamedTuple):
    """``irreps_in[i_in] -> irreps_out[i_out]`` with weights ``path_shape``; ``i_in == -1`` marks a bias."""

    i_in: int
    i_out: int
    path_shape: tuple
    path_weight: float


def _pairs(instructions: Sequence[Any]) -> tuple[list[tuple[int, int]], set[int]]:
    """``(i_in, i_out)`` pairs and the outputs given a bias (``i_in == -1``).

    Entries are pairs or instruction objects with ``i_in``/``i_out`` (e3lab's or e3nn's
    ``Linear.instructions``, whose path weights follow from the pairs and are recomputed).
    """
    pairs, bias_outputs = [], set()
    for entry in instructions:
        if hasattr(entry, "i_in") and hasattr(entry, "i_out"):
            entry = (entry.i_in, entry.i_out)
        entry = tuple(entry)
        if len(entry) != 2:
            raise InstructionError(f"Linear instruction {entry} must be a pair (i_in, i_out)")
        if entry[0] == -1:
            bias_outputs.add(entry[1])
        else:
            pairs.append(entry)
    return pairs, bias_outputs


def _instructions(
    irreps_in: Irreps,
    irreps_out: Irreps,
    pairs: list[tuple[int, int]],
    f_in: int | None,
    norm: str,
) -> list[Instruction]:
    for i_in, i_out in pairs:
        if not 0 <= i_in < len(irreps_in) or not 0 <= i_out < len(irreps_out):
            raise InstructionIndexError(
                f"instruction {(i_in, i_out)} is out of range for irreps_in={irreps_in} "
                f"({len(irreps_in)} terms) "
                f"and irreps_out={irreps_out} ({len(irreps_out)} terms)"
            )
        if irreps_in[i_in].ir != irreps_out[i_out].ir:
            raise InstructionError(
                f"instruction {(i_in, i_out)} maps {irreps_in[i_in].ir} to {irreps_out[i_out].ir}; "
                "Linear only connects equal irreps"
            )
    out = []
    for i_in, i_out in pairs:
        into = [i for i, o in pairs if o == i_out]
        x = sum(irreps_in[i if norm == "element" else i_in].mul for i in into) * (f_in or 1)
        out.append(Instruction(i_in, i_out, (irreps_in[i_in].mul, irreps_out[i_out].mul), (x or 1.0) ** -0.5))
    return out


class Linear(torch.nn.Module):
    r"""Equivariant linear map ``x: [..., irreps_in.dim] -> [..., irreps_out.dim]``, identical to e3nn 0.6.0.

    Each instruction ``(i_in, i_out)`` (default: every pair of equal irreps) adds
    ``x[i_in] @ W / sqrt(fan_in)`` to ``out[i_out]``: ``fan_in`` sums ``mul_in`` over the instructions into
    ``i_out`` (``path_normalization="element"``) or is this ``mul_in`` times their number (``"path"``), times
    ``f_in`` when given. With ``f_in``/``f_out`` the input is ``[..., f_in, irreps_in.dim]``, the weights
    ``[f_in, f_out, weight_numel]`` and the output ``[..., f_out, irreps_out.dim]``.

    Args:
        instructions: ``(i_in, i_out)`` pairs, or the ``instructions`` of another ``Linear`` (e3lab's or
            e3nn's; their bias entries ``i_in == -1`` request biases on those outputs).
        biases: ``True`` adds a bias (initialised to 0) to every ``0e`` output term, or one bool per term.
        internal_weights / shared_weights: as in :class:`TensorProduct`; per-sample weights are
            ``[..., weight_numel]``.
        _optimize_einsums: e3nn's switch for planning its einsums with opt_einsum. Accepted and kept as
            ``self._optimize_einsums`` for e3nn code; e3lab's Linear is one matmul per instruction, so it
            changes nothing (in e3nn it changes only speed, never values).
    """

    def __init__(
        self,
        irreps_in: Any,
        irreps_out: Any,
        *,
        f_in: int | None = None,
        f_out: int | None = None,
        internal_weights: bool | None = None,
        shared_weights: bool | None = None,
        instructions: Sequence[tuple[int, int]] | None = None,
        biases: bool | Sequence[bool] = False,
        path_normalization: str = "element",
        _optimize_einsums: bool | None = None,
    ) -> None:
        super().__init__()
        if path_normalization not in ("element", "path"):
            raise ValueError(f"path_normalization={path_normalization!r}; expected 'element' or 'path'")
        if (f_in is None) != (f_out is None):
            raise ValueError(f"give both f_in and f_out or neither, got f_in={f_in}, f_out={f_out}")
        self.irreps_in, self.irreps_out = Irreps(irreps_in), Irreps(irreps_out)
        self.f_in, self.f_out = f_in, f_out
        self._optimize_einsums = _optimize_einsums
        if instructions is None:
            instructions = [
                (i, o)
                for i, (_, ir_in) in enumerate(self.irreps_in)
                for o, (_, ir_out) in enumerate(self.irreps_out)
                if ir_in == ir_out
            ]
        pairs, bias_outputs = _pairs(instructions)
        self.instructions = _instructions(self.irreps_in, self.irreps_out, pairs, f_in, path_normalization)
        if isinstance(biases, bool):
            biases = [biases and ir.is_scalar() for _, ir in self.irreps_out]
        biases = list(biases)
        if len(biases) != len(self.irreps_out):
            raise ValueError(
                f"biases has {len(biases)} entries, irreps_out={self.irreps_out} has {len(self.irreps_out)}"
            )
        biases = [bias or i in bias_outputs for i, bias in enumerate(biases)]
        for bias, (_, ir) in zip(biases, self.irreps_out, strict=True):
            if bias and not ir.is_scalar():
                raise ValueError(f"biases are only allowed on 0e outputs, got one on {ir}")
        self.instructions += [
            Instruction(-1, i_out, (mul_ir.dim,), 1.0)
            for i_out, (bias, mul_ir) in enumerate(zip(biases, self.irreps_out, strict=True))
            if bias
        ]
        if shared_weights is False and internal_weights is None:
            internal_weights = False
        shared_weights = True if shared_weights is None else shared_weights
        internal_weights = True if internal_weights is None else internal_weights
        if internal_weights and not shared_weights:
            raise ValueError("internal_weights=True needs shared_weights=True (internal weights are shared)")
        self.shared_weights, self.internal_weights = bool(shared_weights), bool(internal_weights)
        self.weight_numel = sum(
            ins.path_shape[0] * ins.path_shape[1] for ins in self.instructions if ins.i_in >= 0
        )
        self.bias_numel = sum(ins.path_shape[0] for ins in self.instructions if ins.i_in == -1)
        features = (f_in, f_out) if f_in is not None else ()
        if self.internal_weights and self.weight_numel > 0:
            self.weight = torch.nn.Parameter(torch.randn(*features, self.weight_numel))
        else:
            self.register_buffer("weight", torch.Tensor())
        if self.internal_weights and self.bias_numel > 0:
            self.bias = torch.nn.Parameter(torch.zeros(*features[1:], self.bias_numel))
        else:
            self.register_buffer("bias", torch.Tensor())
        live = {ins.i_out for ins in self.instructions if 0 not in ins.path_shape}
        mask = [torch.full((mul_ir.dim,), float(i in live)) for i, mul_ir in enumerate(self.irreps_out)]
        self.register_buffer("output_mask", torch.cat(mask) if mask else torch.ones(0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.irreps_in} -> {self.irreps_out} | {self.weight_numel} weights)"

    def weight_views(
        self, weight: torch.Tensor | None = None, yield_instruction: bool = False
    ) -> Iterator[torch.Tensor | tuple[int, Instruction, torch.Tensor]]:
        """Views ``[..., mul_in, mul_out]`` of ``weight`` (default: internal), one per weighted path.

        With ``yield_instruction`` yields ``(instruction_index, instruction, view)``.
        """
        for index, ins in enumerate(self.instructions):
            if ins.i_in != -1:
                view = self.weight_view_for_instruction(index, weight)
                yield (index, ins, view) if yield_instruction else view

    def weight_view_for_instruction(
        self, instruction: int, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The view ``[..., mul_in, mul_out]`` of ``weight`` (default: internal) used by ``instructions[i]``.

        Writing into it changes the weights. ``weight``: ``[..., weight_numel]`` as given to ``forward``.
        """
        ins = self.instructions[instruction]
        if ins.i_in == -1:
            raise ValueError(f"instruction {instruction} is the bias of output {ins.i_out}: use .bias")
        if weight is None:
            if not self.internal_weights:
                raise WeightError(f"Linear has no internal weights: pass weight [..., {self.weight_numel}]")
            weight = self.weight
        offset = sum(
            i.path_shape[0] * i.path_shape[1] for i in self.instructions[:instruction] if i.i_in != -1
        )
        size = ins.path_shape[0] * ins.path_shape[1]
        return weight.narrow(-1, offset, size).view(*weight.shape[:-1], *ins.path_shape)

    def _check(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        lead = 2 if self.f_in is not None else 1
        if x.dim() < lead or x.shape[-1] != self.irreps_in.dim or (lead == 2 and x.shape[-2] != self.f_in):
            want = (
                f"[..., {self.f_in}, {self.irreps_in.dim}]" if lead == 2 else f"[..., {self.irreps_in.dim}]"
            )
            raise ValueError(
                f"features have shape {tuple(x.shape)} but irreps_in = {self.irreps_in} needs {want}"
            )
        w_lead = (self.f_in, self.f_out) if lead == 2 else ()
        if self.weight_numel > 0:
            ok = tuple(weight.shape[weight.dim() - len(w_lead) - 1 :]) == (*w_lead, self.weight_numel)
            if not ok or (self.shared_weights and weight.dim() != len(w_lead) + 1):
                dims = ", ".join(map(str, (*w_lead, self.weight_numel)))
                raise WeightError(
                    f"weight has shape {tuple(weight.shape)}; expected "
                    f"[{'' if self.shared_weights else '..., '}{dims}] (weight_numel)"
                )
            if weight.dtype != x.dtype or weight.device != x.device:
                raise TypeError(
                    f"weight is {weight.dtype} on {weight.device} but features are {x.dtype} on {x.device}; "
                    "use one dtype and device (module.to(...))"
                )
        if self.bias_numel > 0 and (bias.shape[-1] != self.bias_numel or bias.dtype != x.dtype):
            raise ValueError(
                f"bias has shape {tuple(bias.shape)} and dtype {bias.dtype}; "
                f"expected [..., {self.bias_numel}] "
                f"(bias_numel) in {x.dtype}"
            )

    def forward(
        self, features: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``features: [..., (f_in,) irreps_in.dim]`` -> ``[..., (f_out,) irreps_out.dim]``."""
        if weight is None:
            if self.weight_numel > 0 and not self.internal_weights:
                raise WeightError(f"Linear has no internal weights: pass weight [..., {self.weight_numel}]")
            weight = self.weight
        if bias is None:
            if self.bias_numel > 0 and not self.internal_weights:
                raise WeightError(f"Linear has no internal biases: pass bias [..., {self.bias_numel}]")
            bias = self.bias
        self._check(features, weight, bias)
        return self._linear(features, weight, bias)

    def _linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        f = self.f_in is not None
        batch = x.shape[: x.dim() - (2 if f else 1)]
        w_off, b_off = 0, 0
        outs: dict[int, torch.Tensor] = {}
        blocks = x.split([mul_ir.dim for mul_ir in self.irreps_in], dim=-1)
        for ins in self.instructions:
            (mul_out, ir) = self.irreps_out[ins.i_out]
            if ins.i_in == -1:
                term = bias.narrow(-1, b_off, mul_out).unsqueeze(-1)
                b_off += mul_out
            else:
                mul_in = ins.path_shape[0]
                w = weight.narrow(-1, w_off, mul_in * mul_out)
                w_off += mul_in * mul_out
                if mul_in == 0 or mul_out == 0:
                    continue
                w = w.reshape(*w.shape[:-1], mul_in, mul_out)
                xb = blocks[ins.i_in].reshape(*blocks[ins.i_in].shape[:-1], mul_in, ir.dim)
                if f:
                    term = torch.einsum("...xui,...xyuw->...ywi", xb, w)
                else:  # [..., i, u] @ [(...), u, w]: one matmul, shared or per sample
                    term = (xb.transpose(-1, -2) @ w).transpose(-1, -2)
                term = ins.path_weight * term
            outs[ins.i_out] = term if ins.i_out not in outs else outs[ins.i_out] + term
        trail = 3 if f else 2  # [(f_out,) mul_out, ir.dim]
        out_batch = torch.broadcast_shapes(batch, *(t.shape[: t.dim() - trail] for t in outs.values()))
        lead = (*out_batch, self.f_out) if f else tuple(out_batch)
        pieces = []
        for i_out, mul_ir in enumerate(self.irreps_out):
            if i_out in outs:
                pieces.append(outs[i_out].expand(*lead, *outs[i_out].shape[-2:]).reshape(*lead, mul_ir.dim))
            else:
                pieces.append(x.new_zeros(*lead, mul_ir.dim))
        return torch.cat(pieces, dim=-1) if pieces else x.new_zeros(*lead, 0)
