"""Place small blocks into one zero matrix, with a backward that only slices (no full-size clone per block).

``stack_blocks(blocks, places, shape)``: ``blocks[i]: [Z, rows_i, cols_i]`` lands at
``out[:, r0:r0 + rows_i, c0:c0 + cols_i]`` with ``(r0, c0) = places[i]``; ``out: [Z, *shape]``, zero
elsewhere.
Assigning into a zero tensor under autograd clones the whole gradient once per block in backward, and building
the matrix with ``cat`` (gap fillers, then rows) copies it twice; here it is written once and the gradient of
each block is a view of the output's gradient. The backward is made of differentiable slicing, so double
backward works.
"""

from __future__ import annotations

import torch

__all__ = ["stack_blocks"]


class _StackBlocks(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        places: tuple[tuple[int, int], ...],
        shape: tuple[int, int],
        *blocks: torch.Tensor,
    ) -> torch.Tensor:
        ctx.places = places
        ctx.sizes = [tuple(b.shape[1:]) for b in blocks]
        out = blocks[0].new_zeros(blocks[0].shape[0], *shape)
        for (r0, c0), block in zip(places, blocks, strict=True):
            out[:, r0 : r0 + block.shape[1], c0 : c0 + block.shape[2]] = block
        return out

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        grads = [
            grad[:, r0 : r0 + rows, c0 : c0 + cols]
            for (r0, c0), (rows, cols) in zip(ctx.places, ctx.sizes, strict=True)
        ]
        return (None, None, *grads)


def stack_blocks(
    blocks: list[torch.Tensor], places: list[tuple[int, int]], shape: tuple[int, int]
) -> torch.Tensor:
    """``blocks[i]: [Z, rows_i, cols_i]`` at ``places[i]`` (row, column) of a zero ``[Z, *shape]``."""
    return _StackBlocks.apply(tuple(places), tuple(shape), *blocks)
