"""Extract: cut a tensor laid out by one Irreps into several tensors laid out by sub-Irreps."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from e3lab.o3 import Irreps


class Extract(torch.nn.Module):
    """Pick ``mul x ir`` blocks of the input into one or more outputs.

    Args:
        irreps_in: layout of the input ``x: [..., irreps_in.dim]``.
        irreps_outs: one Irreps per output.
        instructions: one tuple per output, listing for each term of ``irreps_outs[k]`` the index of
            the input term it copies (the two terms must be equal).
        squeeze_out: with a single output, return the tensor itself instead of a 1-tuple.

    Forward: ``x: [..., irreps_in.dim] -> tuple of [..., irreps_outs[k].dim]``.

    Example: ``Extract("1e + 0e + 0e", ["0e", "0e"], [(1,), (2,)])`` maps
    ``[0, 0, 0, 1, 2]`` to ``([1], [2])``.
    """

    def __init__(
        self,
        irreps_in: Irreps | str,
        irreps_outs: Sequence[Irreps | str],
        instructions: Sequence[Sequence[int]],
        squeeze_out: bool = False,
    ) -> None:
        super().__init__()
        self.irreps_in = Irreps(irreps_in)
        self.irreps_outs = tuple(Irreps(irreps) for irreps in irreps_outs)
        self.instructions = [tuple(ins) for ins in instructions]
        self.squeeze_out = squeeze_out
        if len(self.irreps_outs) != len(self.instructions):
            raise ValueError(
                f"got {len(self.irreps_outs)} irreps_outs but {len(self.instructions)} instructions: "
                "give one instruction tuple per output"
            )
        slices = self.irreps_in.slices()
        # per output, the (start, length) input segments to copy, neighbouring segments merged
        self._segments: list[list[tuple[int, int]]] = []
        for irreps_out, ins in zip(self.irreps_outs, self.instructions, strict=True):
            if len(irreps_out) != len(ins):
                raise ValueError(
                    f"instruction {ins} has {len(ins)} indices but irreps_out {irreps_out} has "
                    f"{len(irreps_out)} terms: give one input index per output term"
                )
            segments: list[tuple[int, int]] = []
            for mul_ir, i_in in zip(irreps_out, ins, strict=True):
                if not 0 <= i_in < len(self.irreps_in):
                    raise ValueError(
                        f"instruction index {i_in} is out of range for irreps_in {self.irreps_in}"
                    )
                if tuple(mul_ir) != tuple(self.irreps_in[i_in]):
                    raise ValueError(
                        f"output term {mul_ir} differs from input term {i_in} ({self.irreps_in[i_in]}); "
                        "an instruction must point at an identical term"
                    )
                start, length = slices[i_in].start, mul_ir.dim
                if segments and segments[-1][0] + segments[-1][1] == start:
                    segments[-1] = (segments[-1][0], segments[-1][1] + length)
                elif length > 0:
                    segments.append((start, length))
            self._segments.append(segments)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
        """``x: [..., irreps_in.dim]`` -> tuple of ``[..., irreps_outs[k].dim]``."""
        if x.shape[-1] != self.irreps_in.dim:
            raise ValueError(
                f"Extract expects x of shape [..., {self.irreps_in.dim}] (irreps_in={self.irreps_in}), "
                f"got {list(x.shape)}"
            )
        outs = []
        for segments in self._segments:
            parts = [x.narrow(-1, start, length) for start, length in segments]
            if len(parts) == 1:
                outs.append(parts[0])
            elif parts:
                outs.append(torch.cat(parts, dim=-1))
            else:
                outs.append(x.new_zeros((*x.shape[:-1], 0)))
        if self.squeeze_out and len(outs) == 1:
            return outs[0]
        return tuple(outs)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {', '.join(str(i) for i in self.irreps_outs)}"
