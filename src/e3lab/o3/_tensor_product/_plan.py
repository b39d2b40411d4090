"""Construction-time plan of the fast tensor-product kernel: one entry per path, grouped for matmuls.

Each path computes a *pair tensor* ``s`` laid out ``[Z, k, u, v]`` (``[Z, k, u]`` for the ``uu*`` modes),
the Clebsch-Gordan block and ``path_weight`` already folded in, without ever forming the outer product
``x_u y_v`` over ``(i, j)``. The contraction order is chosen per path from the Clebsch-Gordan sparsity:

- ``x0``: ``l1 = 0``, the block is ``c * delta_jk``: ``s = c * x_u * y_v``;
- ``y0``: ``l2 = 0``, the block is ``c * delta_ik``: ``s = c * x_u * y_v``;
- ``dot``: ``l_out = 0``, the block is ``c * delta_ij``: ``s = c * <x_u, y_v>``;
- ``xfirst`` / ``yfirst``: contract the cheaper input with the block first, then the other one.

All ``uvw`` paths with weights into the same output form one group (wherever their blocks sit in the flat
weight vector): their pair tensors are concatenated and hit by one (batched) matmul with the gathered weights.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch

from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._wigner_3j import wigner_3j

__all__ = ["PathPlan", "block_layout", "build_plan", "group_paths"]


class PathPlan(NamedTuple):
    """Static description of one non-empty path for the fast kernel."""

    mode: str
    i_in1: int
    i_in2: int
    i_out: int
    mul1: int
    mul2: int
    mul_out: int
    dim_out: int
    kernel: str
    scale: float
    buffer: str
    weight_start: int
    weight_stop: int


def _delta_scale(block: torch.Tensor, identity: torch.Tensor) -> float | None:
    """``c`` when ``block == c * identity`` (to 1e-12), else ``None``."""
    c = float(block.reshape(-1)[0])
    return c if torch.allclose(block, c * identity, atol=1e-12, rtol=0.0) else None


def _choose_kernel(ins: Instruction, cg: torch.Tensor, mul1: int, mul2: int) -> tuple[str, float]:
    d1, d2, d3 = cg.shape
    kernel, scale = "", None
    if d1 == 1:
        scale = _delta_scale(cg[0], torch.eye(d2, dtype=cg.dtype))
        kernel = "x0"
    elif d2 == 1:
        scale = _delta_scale(cg[:, 0], torch.eye(d1, dtype=cg.dtype))
        kernel = "y0"
    elif d3 == 1:
        scale = _delta_scale(cg[:, :, 0], torch.eye(d1, dtype=cg.dtype))
        kernel = "dot"
    if scale is not None:
        return kernel, scale * ins.path_weight
    if ins.connection_mode in ("uuw", "uuu"):
        return ("xfirst" if d1 <= d2 else "yfirst"), 0.0
    if mul2 == 1 and mul1 > 1:  # y @ C is a per-sample [d3, d1] matrix, then one batched matmul with x
        return "yfirst", 0.0
    x_first = mul1 * d1 * d2 * d3 + mul1 * mul2 * d2 * d3
    y_first = mul2 * d1 * d2 * d3 + mul1 * mul2 * d1 * d3
    return ("xfirst" if x_first <= y_first else "yfirst"), 0.0


def build_plan(
    irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: list[Instruction]
) -> tuple[list[PathPlan], dict[str, torch.Tensor]]:
    """Plans for the non-empty paths and the scaled Clebsch-Gordan buffers of the general kernels.

    Buffers are float64 here; the owner casts them to the default dtype. ``xfirst`` stores the block as
    ``[d1, d3 * d2]`` (``x @ C`` gives ``[.., k, j]``), ``yfirst`` as ``[d2, d3 * d1]``.
    """
    plans, buffers, offset = [], {}, 0
    for index, ins in enumerate(instructions):
        start = offset
        if ins.has_weight:
            offset += int(torch.Size(ins.path_shape).numel())
        (mul1, ir1), (mul2, ir2), (mul_out, ir_out) = (
            irreps_in1[ins.i_in1],
            irreps_in2[ins.i_in2],
            irreps_out[ins.i_out],
        )
        if mul1 == 0 or mul2 == 0 or mul_out == 0 or ins.path_weight == 0:
            continue
        cg = wigner_3j(ir1.l, ir2.l, ir_out.l, dtype=torch.float64)
        kernel, scale = _choose_kernel(ins, cg, mul1, mul2)
        name = ""
        if kernel in ("xfirst", "yfirst"):
            name = f"cg_{index}"
            perm = (0, 2, 1) if kernel == "xfirst" else (1, 2, 0)
            block = cg.permute(*perm) * ins.path_weight
            buffers[name] = block.reshape(block.shape[0], -1).contiguous()
        plans.append(
            PathPlan(
                ins.connection_mode,
                ins.i_in1,
                ins.i_in2,
                ins.i_out,
                mul1,
                mul2,
                mul_out,
                ir_out.dim,
                kernel,
                scale,
                name,
                start if ins.has_weight else -1,
                offset if ins.has_weight else -1,
            )
        )
    return plans, buffers


def group_paths(plans: list[PathPlan]) -> list[tuple[PathPlan, ...]]:
    """Split the plans into groups: all weighted ``uvw`` paths into one output merge, others stay alone."""
    groups: list[list[PathPlan]] = []
    uvw_group_of_output: dict[int, int] = {}
    for plan in plans:
        if plan.mode == "uvw" and plan.weight_start >= 0:
            if plan.i_out in uvw_group_of_output:
                groups[uvw_group_of_output[plan.i_out]].append(plan)
                continue
            uvw_group_of_output[plan.i_out] = len(groups)
        groups.append([plan])
    return [tuple(group) for group in groups]


def block_layout(groups: list[tuple[PathPlan, ...]], weight_numel: int) -> list[int] | None:
    """First row of each group in the stacked ``[Z, sum k, weight_numel / mul_out]`` pair matrix, or ``None``.

    Per-sample weights only: when every path is a weighted ``uvw`` one with the same ``mul_out`` and the
    paths own all the weights, ``weight: [Z, n]`` is one ``[Z, n / mul_out, mul_out]`` view and a single
    ``bmm`` serves every group; its backward writes the weight gradient once, where one ``bmm`` per group
    plus ``split``'s ``cat`` allocate it twice. The zero blocks of the stacked matrix cost arithmetic, so the
    layout is only used while it is at most 3x the group-wise one.
    """
    plans = [p for group in groups for p in group]
    if len(groups) < 2 or any(p.mode != "uvw" or p.weight_start < 0 for p in plans):
        return None
    mul_out = plans[0].mul_out
    if (
        any(p.mul_out != mul_out for p in plans)
        or sum(p.weight_stop - p.weight_start for p in plans) != weight_numel
    ):
        return None
    starts = list(itertools.accumulate((g[0].dim_out for g in groups), initial=0))
    dense = starts[-1] * weight_numel
    useful = sum(g[0].dim_out * (p.weight_stop - p.weight_start) for g in groups for p in g)
    return starts[:-1] if dense <= 3 * useful else None
