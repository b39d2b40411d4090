"""The parts of e3nn's ``TensorProduct`` API around the product itself: ``right``, weight views, weight lists.

:class:`E3nnTensorProductApi` is a mixin of :class:`TensorProduct`; it relies on the product's ``irreps_*``,
``instructions``, ``shared_weights``, ``weight_numel``, ``_get_weight`` and ``forward``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from e3lab.o3._errors import WeightError

__all__ = ["E3nnTensorProductApi"]

# weights as forward takes them: flat, a list of per-instruction blocks, or None (the internal ones)
_Weight = torch.Tensor | Sequence[torch.Tensor] | None


def _numel(shape: tuple) -> int:
    return int(torch.Size(shape).numel())


class E3nnTensorProductApi:
    """``right``, ``weight_view_for_instruction``, ``weight_views`` and weights given as a list of blocks."""

    instructions: list[Any]
    irreps_in1: Any
    irreps_in2: Any
    shared_weights: bool
    weight_numel: int
    _compile_right: bool

    def right(self, y: torch.Tensor, weight: _Weight = None) -> torch.Tensor:
        """The product with ``y`` (and the weights) fixed, as a matrix acting on ``x``.

        ``y: [..., irreps_in2.dim]`` -> ``[..., irreps_in1.dim, irreps_out.dim]`` such that
        ``self(x, y, weight) == torch.einsum("...i,...ik->...k", x, self.right(y, weight))``. ``weight`` as in
        ``forward``. As in e3nn it needs ``compile_right=True`` at construction. Computed as the product of
        each basis vector of ``irreps_in1`` with ``y`` (exact: the product is linear in ``x``).
        """
        if not self._compile_right:
            raise RuntimeError(
                f"{type(self).__name__}.right() is off: build the product with compile_right=True "
                "(as in e3nn)"
            )
        if y.dim() == 0 or y.shape[-1] != self.irreps_in2.dim:
            raise ValueError(
                f"y has shape {tuple(y.shape)} but irreps_in2 = {self.irreps_in2} needs the last dimension "
                f"to be {self.irreps_in2.dim}"
            )
        weight = self._get_weight(weight)
        basis = torch.eye(self.irreps_in1.dim, dtype=y.dtype, device=y.device)  # [in1.dim, in1.dim]
        per_sample = not self.shared_weights and self.weight_numel > 0
        return self(basis, y.unsqueeze(-2), weight.unsqueeze(-2) if per_sample else weight)  # type: ignore[operator]

    def _flat_weight(self, weight: _Weight) -> torch.Tensor | None:
        """Weights given as a list (one tensor ``[(...,) *path_shape]`` per weighted instruction) -> flat."""
        if weight is None or isinstance(weight, torch.Tensor):
            return weight
        shapes = [ins.path_shape for ins in self.instructions if ins.has_weight]
        blocks = list(weight)
        if len(blocks) != len(shapes):
            raise WeightError(
                f"weight is a list of {len(blocks)} tensors; expected one per weighted instruction "
                f"({len(shapes)}, of shapes {shapes})"
            )
        flat = []
        for block, shape in zip(blocks, shapes, strict=True):
            batch = block.shape[: block.dim() - len(shape)]
            if tuple(block.shape[len(batch) :]) != tuple(shape) or (self.shared_weights and len(batch) > 0):
                lead = "" if self.shared_weights else "..., "
                raise WeightError(
                    f"a weight block has shape {tuple(block.shape)}; its instruction needs [{lead}"
                    f"{', '.join(map(str, shape))}]"
                )
            flat.append(block.reshape(*batch, _numel(shape)))
        if not flat:
            return torch.zeros(0)
        batch = torch.broadcast_shapes(*(block.shape[:-1] for block in flat))
        return torch.cat([block.expand(*batch, block.shape[-1]) for block in flat], dim=-1)

    def weight_view_for_instruction(
        self, instruction: int, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The view ``[..., *path_shape]`` of ``weight`` (default: internal) used by ``instructions[i]``.

        The instruction must have weights. Writing into the view changes the weights.
        """
        ins = self.instructions[instruction]
        if not ins.has_weight:
            raise ValueError(f"instruction {instruction} ({ins}) has no weights")
        weight = self._get_weight(weight)
        offset = sum(_numel(i.path_shape) for i in self.instructions[:instruction] if i.has_weight)
        size = _numel(ins.path_shape)
        return weight.narrow(-1, offset, size).view(*weight.shape[:-1], *ins.path_shape)

    def weight_views(
        self, weight: torch.Tensor | None = None, yield_instruction: bool = False
    ) -> Iterator[torch.Tensor | tuple[int, Any, torch.Tensor]]:
        """Views ``[..., *path_shape]`` of ``weight`` (default: internal), one per weighted instruction.

        With ``yield_instruction`` yields ``(instruction_index, instruction, view)``.
        """
        for index, ins in enumerate(self.instructions):
            if ins.has_weight:
                view = self.weight_view_for_instruction(index, weight)
                yield (index, ins, view) if yield_instruction else view
