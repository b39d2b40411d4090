"""Fast tensor-product kernel: pair tensors from pre-scaled Clebsch-Gordan blocks, then one matmul per group.

Shapes: ``x: [Z, irreps_in1.dim]``, ``y: [Z, irreps_in2.dim]``, ``weight: [weight_numel]`` (shared) or
``[Z, weight_numel]`` (per sample), output ``[Z, irreps_out.dim]``. Nothing of size ``mul1 * mul2 * d1 * d2``
is formed; see :mod:`e3lab.o3._tensor_product._plan` for the per-path choices.

Two layouts of a path's result are used: weighted ``uvw`` groups work on ``[Z, k, rows]`` (rows = the
concatenated ``(u, v)`` of the group's paths) so that the weights are one (batched) matmul; the other modes
with ``mul2 == 1`` (the usual spherical-harmonics operand) produce ``[Z, u, k]``, the output layout itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch

from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._plan import PathPlan, block_layout, build_plan, group_paths
from e3lab.o3._tensor_product._stack import stack_blocks

__all__ = ["TensorProductKernel"]


def _blocks(x: torch.Tensor, irreps: Irreps) -> list[torch.Tensor]:
    """``x: [Z, irreps.dim]`` -> one ``[Z, mul, ir.dim]`` view per term (``split``: one ``cat`` backward)."""
    parts = x.split([mul_ir.dim for mul_ir in irreps], dim=1)
    return [part.reshape(x.shape[0], mul, ir.dim) for part, (mul, ir) in zip(parts, irreps, strict=True)]


def _per_sample_matmul(s: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``s: [Z, k, r]``, ``w: [Z, r, n]`` -> ``[Z, k, n]``.

    For ``k == 1`` a broadcast product and a sum: its weight gradient is then an outer product (one pass),
    where a batched matmul with inner size 1 is several times slower on CPU.
    """
    if s.shape[1] == 1:
        return (s.transpose(1, 2) * w).sum(1, keepdim=True)
    return torch.bmm(s, w)


def _segments(sizes: list[int], groups: list[tuple[PathPlan, ...]]) -> tuple[list[int], list[int]]:
    """Starts and sizes of the pieces ``weight`` is split into: one per weighted instruction, except that the
    blocks of a weighted ``uvw`` group lying back to back (in the group's order) form one piece."""
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    merged: dict[int, int] = {}  # start of a piece -> its size
    for group in groups:
        adjacent = all(a.weight_stop == b.weight_start for a, b in itertools.pairwise(group))
        if len(group) > 1 and group[0].mode == "uvw" and group[0].weight_start >= 0 and adjacent:
            merged[group[0].weight_start] = group[-1].weight_stop - group[0].weight_start
    covered = {s for start, size in merged.items() for s in starts if start < s < start + size}
    kept = [s for s in starts if s not in covered]
    return kept, [merged.get(s, size) for s, size in zip(starts, sizes, strict=True) if s not in covered]


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
        # ``weight.split`` into segments has a single ``cat`` as backward, where slicing each path's block
        # would zero-fill and add a full-size gradient per path
        sizes = [int(torch.Size(i.path_shape).numel()) for i in instructions if i.has_weight]
        self.chunk_starts, self.chunk_sizes = _segments(sizes, self.groups)
        self.block_starts = block_layout(self.groups, weight_numel)
        # float64 originals: module.to(dtype/device) re-derives the buffers from these (see _apply), so a
        # module built in float32 and then moved to float64 has float64-exact coefficients
        self._exact = buffers
        for name, value in buffers.items():
            self.register_buffer(name, value.to(torch.get_default_dtype()), persistent=False)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> TensorProductKernel:
        super()._apply(fn, recurse)
        for name, exact in self._exact.items():
            current = self._buffers[name]
            self._buffers[name] = exact.to(dtype=current.dtype, device=current.device)
        return self

    @staticmethod
    def _v1(plan: PathPlan) -> bool:
        """Whether the path takes the ``mul2 == 1`` route (``y`` first, no outer product over ``v``)."""
        return plan.mul2 == 1 and plan.mode in ("uvw", "uvu", "uvv", "uvuv") and plan.kernel != "xfirst"

    def _pair_v1(
        self, plan: PathPlan, x: torch.Tensor, xt: torch.Tensor | None, y: torch.Tensor
    ) -> torch.Tensor:
        """``mul2 == 1``: ``x: [Z, u, d1]`` (``xt``: its ``[Z, d1, u]`` copy, for ``uvw``), ``y: [Z, 1, d2]``.

        Returns ``[Z, k, u]`` for ``uvw`` and ``[Z, u, k]`` for the other modes.
        """
        ku = plan.mode == "uvw"
        if plan.kernel == "x0":  # x: [Z, u, 1]
            yt = plan.scale * y  # [Z, 1, k]
            return yt.transpose(1, 2) * x.transpose(1, 2) if ku else x * yt
        if plan.kernel == "y0":  # y: [Z, 1, 1]
            yt = plan.scale * y
            return xt * yt if ku else x * yt
        if plan.kernel == "dot":  # [Z, 1, u] / [Z, u, 1]
            yt = plan.scale * y
            return torch.bmm(yt, xt) if ku else torch.bmm(x, yt.transpose(1, 2))
        cg = getattr(self, plan.buffer).to(x.dtype)  # [d2, k * d1]
        m = (y[:, 0] @ cg).reshape(y.shape[0], plan.dim_out, x.shape[2])  # [Z, k, d1]
        return torch.bmm(m, xt) if ku else torch.bmm(x, m.transpose(1, 2))

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

    @staticmethod
    def _weights(group: tuple[PathPlan, ...], chunks: dict[int, torch.Tensor], shared: bool) -> torch.Tensor:
        """The group's weight blocks, gathered: ``[rows, mul_out]`` or ``[Z, rows, mul_out]``.

        A group whose blocks are adjacent in the flat weights is one segment: a view, no copy.
        """
        mul_out = group[0].mul_out
        segment = chunks[group[0].weight_start]
        rows = sum(p.mul1 * p.mul2 for p in group)
        if segment.shape[-1] == group[-1].weight_stop - group[0].weight_start and len(group) > 1:
            return segment.reshape(*segment.shape[:-1], rows, mul_out)  # explicit rows: Z may be 0
        blocks = [
            chunks[p.weight_start].reshape(*chunks[p.weight_start].shape[:-1], p.mul1 * p.mul2, mul_out)
            for p in group
        ]
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=-2)

    def _uvw_group(
        self,
        group: tuple[PathPlan, ...],
        pairs: list[torch.Tensor],
        chunks: dict[int, torch.Tensor],
        shared: bool,
    ) -> torch.Tensor:
        """Pairs ``[Z, k, ...]`` of a weighted ``uvw`` group -> ``[Z, mul_out, k]``."""
        z, k = pairs[0].shape[0], group[0].dim_out
        s = pairs[0].flatten(2) if len(pairs) == 1 else torch.cat([p.flatten(2) for p in pairs], 2)
        w = self._weights(group, chunks, shared)
        if not shared:
            return _per_sample_matmul(s, w).transpose(1, 2)
        return (s.flatten(0, 1) @ w).reshape(z, k, w.shape[-1]).transpose(1, 2)

    def _v1_path(
        self, plan: PathPlan, x: torch.Tensor, y: torch.Tensor, chunks: dict[int, torch.Tensor]
    ) -> torch.Tensor:
        """A ``mul2 == 1`` path of mode uvu, uvv or uvuv -> ``[Z, mul_out, k]``.

        The weight ``[u]`` or ``[Z, u]`` multiplies ``x: [Z, u, d1]`` before the product when ``d1 <= k``,
        else the pair ``[Z, u, k]`` after it: the smaller of the two tensors.
        """
        w = chunks[plan.weight_start].unsqueeze(-1) if plan.weight_start >= 0 else None
        early = w is not None and x.shape[2] <= plan.dim_out
        s = self._pair_v1(plan, x * w if early else x, None, y)
        if w is not None and not early:
            s = s * w
        return s.sum(1, keepdim=True) if plan.mode == "uvv" else s

    @staticmethod
    def _general_path(
        plan: PathPlan, s: torch.Tensor, chunks: dict[int, torch.Tensor], shared: bool
    ) -> torch.Tensor:
        """Pair tensor ``s`` of one path and its weights -> ``[Z, k, mul_out]``."""
        mode, z, k, u, v = plan.mode, s.shape[0], plan.dim_out, plan.mul1, plan.mul2
        if mode in ("uvu<v", "u<vw"):
            return TensorProductKernel._triangle_path(plan, s, chunks, shared)
        if plan.weight_start < 0:  # no weights (uvw always has them)
            if mode == "uvu":
                return s.sum(3)
            if mode == "uvv":
                return s.sum(2)
            if mode == "uvuv":
                return s.reshape(z, k, u * v)
            return s.sum(2, keepdim=True) if mode == "uuw" else s  # uuu
        w = chunks[plan.weight_start]
        if mode in ("uvw", "uuw"):
            rows = u if mode == "uuw" else u * v
            s = s.reshape(z, k, rows)
            if shared:
                return s @ w.reshape(rows, plan.mul_out)
            return _per_sample_matmul(s, w.reshape(z, rows, plan.mul_out))
        shape = (u,) if mode == "uuu" else (u, v)
        w = w.reshape(shape) if shared else w.reshape(z, 1, *shape)
        if mode == "uvu":
            return (s * w).sum(3)
        if mode == "uvv":
            return (s * w).sum(2)
        if mode == "uvuv":
            return (s * w).reshape(z, k, u * v)
        return s * w  # uuu

    @staticmethod
    def _triangle_path(
        plan: PathPlan, s: torch.Tensor, chunks: dict[int, torch.Tensor], shared: bool
    ) -> torch.Tensor:
        """``uvu<v`` / ``u<vw``: the pairs ``u < v`` of ``s: [Z, k, u, v]``, weighted: ``[Z, k, mul_out]``."""
        iu, iv = torch.triu_indices(plan.mul1, plan.mul2, 1, device=s.device)
        s = s[:, :, iu, iv]  # [Z, k, P]
        if plan.weight_start < 0:  # uvu<v without weights
            return s
        w, z, pairs = chunks[plan.weight_start], s.shape[0], s.shape[2]
        if plan.mode == "uvu<v":
            return s * (w if shared else w.reshape(z, 1, pairs))
        if shared:
            return s @ w.reshape(pairs, plan.mul_out)
        return _per_sample_matmul(s, w.reshape(z, pairs, plan.mul_out))

    def _block_uvw(self, pairs: list[list[torch.Tensor]], weight: torch.Tensor) -> list[torch.Tensor]:
        """Pairs of all groups (``_plan.block_layout``), ``weight: [Z, n]`` -> ``[Z, mul_out, k]`` each."""
        z, mul_out = weight.shape[0], self.groups[0][0].mul_out
        w = weight.reshape(z, weight.shape[1] // mul_out, mul_out)  # [Z, R, mul_out]: a view (Z may be 0)
        places = [
            (start, plan.weight_start // mul_out)
            for group, start in zip(self.groups, self.block_starts, strict=True)
            for plan in group
        ]
        rows = self.block_starts[-1] + self.groups[-1][0].dim_out
        blocks = [pair.flatten(2) for group_pairs in pairs for pair in group_pairs]
        out = torch.bmm(stack_blocks(blocks, places, (rows, w.shape[1])), w)  # [Z, sum k, mul_out]
        starts = self.block_starts
        return [
            out[:, a : a + g[0].dim_out].transpose(1, 2) for g, a in zip(self.groups, starts, strict=True)
        ]

    def _uvw_pairs(
        self, group: tuple[PathPlan, ...], xs: list[torch.Tensor], ys: list[torch.Tensor], xt: Callable
    ) -> list[torch.Tensor]:
        """Pair tensors ``[Z, k, ...]`` of the paths of a weighted ``uvw`` group."""
        return [
            self._pair_v1(p, xs[p.i_in1], None if p.kernel == "x0" else xt(p.i_in1), ys[p.i_in2])
            if self._v1(p)
            else self._pair(p, xs[p.i_in1], ys[p.i_in2])
            for p in group
        ]

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, shared: bool) -> torch.Tensor:
        """``x: [Z, in1.dim]``, ``y: [Z, in2.dim]``, ``weight: [n]`` or ``[Z, n]`` -> ``[Z, out.dim]``."""
        xs, ys = _blocks(x, self.irreps_in1), _blocks(y, self.irreps_in2)
        transposed: dict[int, torch.Tensor] = {}  # [Z, d1, u] copies, made once per input term

        def xt(i: int) -> torch.Tensor:
            if i not in transposed:
                transposed[i] = xs[i].transpose(1, 2).contiguous()
            return transposed[i]

        acc: dict[int, torch.Tensor] = {}  # i_out -> [Z, mul_out, k]
        if not shared and self.block_starts is not None:
            pairs = [self._uvw_pairs(group, xs, ys, xt) for group in self.groups]
            for group, out in zip(self.groups, self._block_uvw(pairs, weight), strict=True):
                acc[group[0].i_out] = out
            return self._assemble(acc, x)
        chunks = dict(zip(self.chunk_starts, weight.split(self.chunk_sizes, dim=-1), strict=True))
        for group in self.groups:
            first = group[0]
            if first.mode == "uvw" and first.weight_start >= 0:
                out = self._uvw_group(group, self._uvw_pairs(group, xs, ys, xt), chunks, shared)
            elif self._v1(first):
                out = self._v1_path(first, xs[first.i_in1], ys[first.i_in2], chunks)
            else:
                s = self._pair(first, xs[first.i_in1], ys[first.i_in2])
                out = self._general_path(first, s, chunks, shared).transpose(1, 2)
            acc[first.i_out] = out if first.i_out not in acc else acc[first.i_out] + out
        return self._assemble(acc, x)

    def _assemble(self, acc: dict[int, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Per-output results ``[Z, mul, ir.dim]`` (missing ones are zero) -> ``[Z, irreps_out.dim]``."""
        z = x.shape[0]
        pieces = []
        for i_out, (mul, ir) in enumerate(self.irreps_out):
            if i_out in acc:
                pieces.append(acc[i_out].reshape(z, mul * ir.dim))
            elif mul * ir.dim > 0:
                pieces.append(x.new_zeros(z, mul * ir.dim))
        if not pieces:
            return x.new_zeros(z, 0)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
