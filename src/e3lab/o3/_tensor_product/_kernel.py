"""Fast tensor-product kernel: pair tensors from pre-scaled Clebsch-Gordan blocks, then one matmul per group.

Shapes: ``x: [Z, irreps_in1.dim]``, ``y: [Z, irreps_in2.dim]``, ``weight: [weight_numel]`` (shared) or
``[Z, weight_numel]`` (per sample), output ``[Z, irreps_out.dim]``. Nothing of size ``mul1 * mul2 * d1 * d2``
is formed; see :mod:`e3lab.o3._tensor_product._plan` for the per-path choices.
"""

from __future__ import annotations

import torch

from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._plan import PathPlan, build_plan, group_paths

__all__ = ["TensorProductKernel"]


def _blocks(x: torch.Tensor, irreps: Irreps) -> list[torch.Tensor]:
    """``x: [Z, irreps.dim]`` -> one ``[Z, mul, ir.dim]`` view per term (``split``: one ``cat`` backward)."""
    parts = x.split([mul_ir.dim for mul_ir in irreps], dim=1)
    return [part.reshape(x.shape[0], mul, ir.dim) for part, (mul, ir) in zip(parts, irreps, strict=True)]


def _weight_chunks(groups: list[tuple[PathPlan, ...]], numel: int) -> tuple[list[int], list[int]]:
    """Sizes splitting the flat weights into the groups' blocks (and unused gaps), and each group's chunk."""
    sizes, chunk_of_group, offset = [], [], 0
    for group in groups:
        start, stop = group[0].weight_start, group[-1].weight_stop
        if start < 0:
            chunk_of_group.append(-1)
            continue
        if start > offset:
            sizes.append(start - offset)
        chunk_of_group.append(len(sizes))
        sizes.append(stop - start)
        offset = stop
    if numel > offset:
        sizes.append(numel - offset)
    return sizes, chunk_of_group


class TensorProductKernel(torch.nn.Module):
    """Evaluates the paths of a :class:`TensorProduct`, normalisation folded in (weights come as input)."""

    def __init__(
        self,
        irreps_in1: Irreps,
        irreps_in2: Irreps,
        irreps_out: Irreps,
        instructions: list[Instruction],
        weight_numel: int,
    ) -> None:
        super().__init__()
        self.irreps_in1, self.irreps_in2, self.irreps_out = irreps_in1, irreps_in2, irreps_out
        plans, buffers = build_plan(irreps_in1, irreps_in2, irreps_out, instructions)
        self.groups = group_paths(plans)
        self.weight_sizes, self.weight_chunk = _weight_chunks(self.groups, weight_numel)
        for name, value in buffers.items():
            self.register_buffer(name, value.to(torch.get_default_dtype()), persistent=False)

    def _pair(self, plan: PathPlan, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x: [Z, u, d1]``, ``y: [Z, v, d2]`` -> ``s: [Z, k, u, v]`` (``[Z, k, u]`` for ``uu*`` modes)."""
        uu = plan.mode in ("uuw", "uuu")
        z, k = x.shape[0], plan.dim_out
        # the scale goes on the smaller operand, before the product
        if plan.kernel == "x0":  # x: [Z, u, 1]
            xt, yt = plan.scale * x.transpose(1, 2), y.transpose(1, 2)
            return xt * yt if uu else xt[..., None] * yt[:, :, None, :]
        if plan.kernel == "y0":  # y: [Z, v, 1]
            xt, yt = x.transpose(1, 2), plan.scale * y.transpose(1, 2)
            return xt * yt if uu else xt[..., None] * yt[:, :, None, :]
        if plan.kernel == "dot":
            x = plan.scale * x
            return ((x * y).sum(-1) if uu else torch.bmm(x, y.transpose(1, 2))).unsqueeze(1)
        cg = getattr(self, plan.buffer).to(x.dtype)
        first, second = (x, y) if plan.kernel == "xfirst" else (y, x)
        n_first, d_second = first.shape[1], second.shape[2]
        t = (first.reshape(-1, first.shape[2]) @ cg).reshape(z, n_first, k, d_second)  # [Z, a, k, d_b]
        if uu:
            return (t * second.unsqueeze(2)).sum(-1).transpose(1, 2)
        t = t.transpose(1, 2).reshape(z, k * n_first, d_second)
        s = torch.bmm(t, second.transpose(1, 2)).reshape(z, k, n_first, second.shape[1])
        return s if plan.kernel == "xfirst" else s.transpose(2, 3)

    def _apply_weight(
        self, group: tuple[PathPlan, ...], s: torch.Tensor, w: torch.Tensor | None, shared: bool
    ) -> torch.Tensor:
        """Pair tensor ``s`` of a group and its weight block ``[n]`` or ``[Z, n]`` -> ``[Z, k, mul_out]``."""
        first, mode = group[0], group[0].mode
        z, k, u, v = s.shape[0], first.dim_out, first.mul1, first.mul2
        if w is None:
            if mode == "uvu":
                return s.sum(3)
            if mode == "uvv":
                return s.sum(2)
            if mode == "uvuv":
                return s.reshape(z, k, u * v)
            if mode == "uuw":
                return s.sum(2, keepdim=True)
            return s  # uuu
        if mode in ("uvw", "uuw"):
            rows = u if mode == "uuw" else sum(p.mul1 * p.mul2 for p in group)
            s = s.reshape(z, k, rows)
            if shared:
                return s @ w.reshape(rows, first.mul_out)
            return torch.bmm(s, w.reshape(z, rows, first.mul_out))
        shape = (u,) if mode == "uuu" else (u, v)
        w = w.reshape(shape) if shared else w.reshape(z, 1, *shape)
        if mode == "uvu":
            return (s * w).sum(3)
        if mode == "uvv":
            return (s * w).sum(2)
        if mode == "uvuv":
            return (s * w).reshape(z, k, u * v)
        return s * w  # uuu

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, shared: bool) -> torch.Tensor:
        """``x: [Z, in1.dim]``, ``y: [Z, in2.dim]``, ``weight: [n]`` or ``[Z, n]`` -> ``[Z, out.dim]``."""
        z = x.shape[0]
        xs, ys = _blocks(x, self.irreps_in1), _blocks(y, self.irreps_in2)
        chunks = weight.split(self.weight_sizes, dim=-1) if self.weight_sizes else ()
        acc: dict[int, torch.Tensor] = {}
        for group, chunk in zip(self.groups, self.weight_chunk, strict=True):
            pairs = [self._pair(p, xs[p.i_in1], ys[p.i_in2]) for p in group]
            s = pairs[0] if len(pairs) == 1 else torch.cat([p.flatten(2) for p in pairs], dim=2)
            out = self._apply_weight(group, s, chunks[chunk] if chunk >= 0 else None, shared)
            i_out = group[0].i_out
            acc[i_out] = out if i_out not in acc else acc[i_out] + out
        pieces = []
        for i_out, (mul, ir) in enumerate(self.irreps_out):
            if i_out in acc:
                pieces.append(acc[i_out].transpose(1, 2).reshape(z, mul * ir.dim))
            elif mul * ir.dim > 0:
                pieces.append(x.new_zeros(z, mul * ir.dim))
        if not pieces:
            return x.new_zeros(z, 0)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
