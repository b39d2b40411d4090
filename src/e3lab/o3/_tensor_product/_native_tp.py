"""The fused native CPU path of :class:`TensorProduct` (``e3lab/_native/tensor_product.c``).

It serves the shape of a point convolution: per-sample weights, every path weighted in mode ``uvw`` or
``uvu``, and a second operand whose terms all have multiplicity one (spherical harmonics). Per row it
contracts ``y`` with the Clebsch-Gordan non-zeros, then ``x``, then the weights, in registers and small
scratch buffers: no ``[rows, ...]`` intermediate is written, forward or backward (the backward recomputes
what it needs), so the memory traffic is the inputs, the output and the requested gradients.

Optionally the weights are the last layer of a radial MLP, ``hidden @ mlp``, computed row by row inside the
product (:meth:`NativeTensorProduct.apply_fused`): the ``[rows, weight_numel]`` tensor never exists.

Rows are split into ``torch.get_num_threads()`` ranges that the library runs on PyTorch's OpenMP threads
(``_native_calls.run``; the GIL is released). Derivatives
of every order (forces by ``create_graph=True``, then their training gradient) are made of the same two C
entry points, see :mod:`._autograd`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from e3lab._native._memory import empty_on_huge_pages
from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._autograd import Edges
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._native_calls import (
    DTYPES,
    available,
    empty_like,
    ptr,
    row,
    run,
    split,
    summed,
)
from e3lab.o3._tensor_product._ops import apply_product, register
from e3lab.o3._tensor_product._switches import native_enabled
from e3lab.o3._wigner_3j import wigner_3j

__all__ = ["NativeTensorProduct"]


def _offsets(irreps: Irreps) -> list[int]:
    starts, offset = [], 0
    for mul_ir in irreps:
        starts.append(offset)
        offset += mul_ir.dim
    return starts


def _live_paths(
    irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: list[Instruction]
) -> list[tuple[Instruction, int]]:
    """``(instruction, start of its weight block)`` of the paths that contribute (non-empty, non-zero)."""
    live, offset = [], 0
    for ins in instructions:
        start = offset
        if ins.has_weight:
            offset += int(torch.Size(ins.path_shape).numel())
        muls = (irreps_in1[ins.i_in1].mul, irreps_in2[ins.i_in2].mul, irreps_out[ins.i_out].mul)
        if min(muls) > 0 and ins.path_weight != 0:
            live.append((ins, start if ins.has_weight else -1))
    return live


class NativeTensorProduct:
    """One tensor product's tables for the C kernel (terms, paths, Clebsch-Gordan non-zeros).

    Use :meth:`supports` first; :meth:`apply` / :meth:`apply_fused` are differentiable.
    """

    def __init__(
        self, irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: list[Instruction]
    ) -> None:
        off1, off2, off_out = _offsets(irreps_in1), _offsets(irreps_in2), _offsets(irreps_out)
        terms = [(off1[i], mul_ir.mul, mul_ir.ir.dim) for i, mul_ir in enumerate(irreps_in1)]
        paths, cg_idx, cg_val, max_mul, max_d = [], [], [], 1, 1
        for ins, weight_start in _live_paths(irreps_in1, irreps_in2, irreps_out, instructions):
            (mul1, ir1), (_, ir2), (mul_out, ir_out) = (
                irreps_in1[ins.i_in1],
                irreps_in2[ins.i_in2],
                irreps_out[ins.i_out],
            )
            cg = wigner_3j(ir1.l, ir2.l, ir_out.l, dtype=torch.float64) * ins.path_weight
            nonzero = cg.permute(1, 0, 2).nonzero().tolist()  # (j, i, k)
            mode = 0 if ins.connection_mode == "uvw" else 1
            paths.append(
                (
                    ins.i_in1,
                    off2[ins.i_in2],
                    ir2.dim,
                    off_out[ins.i_out],
                    mul_out,
                    ir_out.dim,
                    weight_start,
                    mode,
                    len(cg_val),
                    len(nonzero),
                )
            )
            cg_idx += nonzero
            cg_val += [float(cg[i, j, k]) for j, i, k in nonzero]
            max_mul, max_d = max(max_mul, mul1, mul_out), max(max_d, ir1.dim, ir_out.dim)
        self.meta = torch.tensor(
            [len(terms), len(paths), irreps_in1.dim, irreps_in2.dim, irreps_out.dim, 0, max_mul, max_d],
            dtype=torch.int64,
        )
        self.terms = torch.tensor(terms, dtype=torch.int64).reshape(-1, 3)
        self.paths = torch.tensor(paths, dtype=torch.int64).reshape(-1, 10)
        self.cg_idx = torch.tensor(cg_idx, dtype=torch.int32).reshape(-1, 3)
        self.cg_val = {dtype: torch.tensor(cg_val, dtype=dtype) for dtype in DTYPES}
        self.dim_out = irreps_out.dim
        self.max_mul = max_mul
        self.variant: str | None = None  # "" (row kernel) or "_lanes" to force one, None: see _variant
        self.key = register(self)

    @staticmethod
    def supports(
        irreps_in1: Irreps,
        irreps_in2: Irreps,
        irreps_out: Irreps,
        instructions: list[Instruction],
        shared: bool,
    ) -> bool:
        """Whether the C kernel covers this product: per-sample weights, weighted uvw/uvu paths, mul2 = 1."""
        live = [ins for ins, _ in _live_paths(irreps_in1, irreps_in2, irreps_out, instructions)]
        return (
            not shared
            and len(live) > 0
            and all(mul == 1 for mul, _ in irreps_in2)
            and all(ins.connection_mode in ("uvw", "uvu") and ins.has_weight for ins in live)
        )

    @staticmethod
    def usable(*tensors: torch.Tensor) -> bool:
        """Whether these inputs may take the native path now (switch, CPU, float32/64, a built library).

        Under ``torch.compile`` too: the kernels are custom operators there (:mod:`._ops`).
        """
        return (
            native_enabled()
            and all(t.device.type == "cpu" and t.dtype in DTYPES for t in tensors)
            and tensors[0].shape[0] > 0
            and available(tensors[0].dtype)
        )

    def apply(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``x: [Z, in1.dim]``, ``y: [Z, in2.dim]``, ``weight: [Z, weight_numel]`` -> ``[Z, out.dim]``."""
        return apply_product(self, (x, y, weight, None, None))

    def apply_fused(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        hidden: torch.Tensor,
        mlp: torch.Tensor,
        edges: Edges | None = None,
    ) -> torch.Tensor:
        """The product with ``weight = hidden @ mlp`` (``hidden: [Z, H]``, ``mlp: [H, weight_numel]``).

        With ``edges = (src, dst, num_nodes)`` (``src``, ``dst``: int64 ``[Z]``), ``x`` is a node array
        ``[N_src, in1.dim]`` read at ``src`` and the result is the sum over rows into ``dst``:
        ``[num_nodes, out.dim]``, without the gathered ``x`` or the per-row products ever stored.
        """
        return apply_product(self, (x, y, None, hidden, mlp), edges)

    def _variant(self, fused: bool) -> str:
        """The C variant: lanes (16 rows per vector), except the row kernel for per-row weights of 64+
        channels. Measured on the force step and train step of channelwise products (32 and 64 channels,
        SH lmax 3, 20k rows): lanes 1.4-2.2x faster with 32 channels and with fused weights (its blocked
        ``hidden @ mlp`` beats the row kernel's dot products), even with 64 channels and given weights."""
        if self.variant is not None:
            return self.variant
        return "_lanes" if fused or self.max_mul < 64 else ""

    def _call(self, entry: str, x: torch.Tensor, numel: int, rows: int, args: Callable, fused: bool) -> None:
        """Call ``tp_<entry><variant>`` on each thread's row range; ``args(a, b, index)`` -> its arguments."""
        meta = self.meta.clone()
        meta[5] = numel
        head = (ptr(meta), ptr(self.terms), ptr(self.paths), ptr(self.cg_idx), ptr(self.cg_val[x.dtype]))
        chunks = [(b - a, *head, *args(a, b, i)) for i, (a, b) in enumerate(split(rows))]
        run(f"{entry}{self._variant(fused)}", x.dtype, chunks)

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
        hidden: torch.Tensor | None,
        mlp: torch.Tensor | None,
        edges: Edges | None = None,
    ) -> torch.Tensor:
        """The product (no autograd): ``[Z, out.dim]``, or ``[num_nodes, out.dim]`` with ``edges``."""
        rows, numel = y.shape[0], (weight if weight is not None else mlp).shape[-1]
        src, dst, num_nodes = edges if edges is not None else (None, None, 0)
        ranges = split(rows)
        if dst is None:
            outs = [empty_on_huge_pages(rows, self.dim_out, like=x)]
        else:  # one node accumulator per thread: rows of different threads may share a node
            outs = [empty_on_huge_pages(num_nodes, self.dim_out, like=x).zero_() for _ in ranges]
        n_hidden = 0 if hidden is None else hidden.shape[1]

        def args(a: int, b: int, i: int) -> tuple:
            return (
                ptr(x) if src is not None else row(x, a), row(y, a), row(weight, a), row(hidden, a),
                ptr(mlp), n_hidden, row(outs[0], a) if dst is None else ptr(outs[i]),
                row(src, a), row(dst, a),
            )  # fmt: skip

        self._call("forward", x, numel, rows, args, hidden is not None)
        return outs[0] if len(outs) == 1 else torch.stack(outs).sum(0)

    def backward(
        self,
        grad_out: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
        hidden: torch.Tensor | None,
        mlp: torch.Tensor | None,
        needs: tuple[bool, ...],
        edges: Edges | None = None,
    ) -> tuple[torch.Tensor | None, ...]:
        """Gradients for ``(x, y, weight, hidden, mlp)``, ``None`` where ``needs`` says not wanted."""
        rows, numel = y.shape[0], (weight if weight is not None else mlp).shape[-1]
        src, dst, _ = edges if edges is not None else (None, None, 0)
        ranges = split(rows)
        gxs = None
        if needs[0]:  # with src: one node accumulator per thread
            gxs = [empty_like(x)] if src is None else [empty_like(x).zero_() for _ in ranges]
        gy = empty_like(y) if needs[1] else None
        gw = empty_like(weight) if weight is not None and needs[2] else None
        gh = empty_like(hidden) if hidden is not None and needs[3] else None
        gms = [torch.zeros_like(mlp) for _ in ranges] if mlp is not None and needs[4] else None
        n_hidden = 0 if hidden is None else hidden.shape[1]

        def args(a: int, b: int, i: int) -> tuple:
            gx = None if gxs is None else (ptr(gxs[i]) if src is not None else row(gxs[0], a))
            return (
                ptr(x) if src is not None else row(x, a), row(y, a), row(weight, a), row(hidden, a),
                ptr(mlp), n_hidden, ptr(grad_out) if dst is not None else row(grad_out, a),
                gx, row(gy, a), row(gw, a), row(gh, a), None if gms is None else ptr(gms[i]),
                row(src, a), row(dst, a),
            )  # fmt: skip

        self._call("backward", x, numel, rows, args, hidden is not None)
        return summed(gxs), gy, gw, gh, summed(gms)

    def double_backward(
        self,
        grad_out: torch.Tensor,
        slots: tuple[torch.Tensor | None, ...],
        cotangents: tuple[torch.Tensor | None, ...],
        needs: tuple[bool, ...],
        edges: Edges | None = None,
    ) -> tuple[torch.Tensor | None, list[torch.Tensor | None]]:
        """The gradient of :meth:`backward` in one pass (no autograd; see ``_autograd.backward_vjp``).

        ``slots = (x, y, weight, hidden, mlp)``; ``cotangents``: of the backward's five outputs (``None``:
        zero); ``needs``: for ``grad_out`` then each slot. Returns ``(grad of grad_out, [grad of slot])``.
        """
        x, y, weight, hidden, mlp = slots
        cx, cy, cw, ch, cm = (c if t is not None else None for c, t in zip(cotangents, slots, strict=True))
        rows, numel = y.shape[0], (weight if weight is not None else mlp).shape[-1]
        src, dst, num_nodes = edges if edges is not None else (None, None, 0)
        ranges = split(rows)

        def buffers(wanted: bool, like: torch.Tensor | None, index: torch.Tensor | None, size: int = 0):
            if not wanted or like is None:
                return None  # with an index: one node accumulator per thread, else one buffer
            shape = (size or like.shape[0], *like.shape[1:])
            if index is None:
                return [empty_on_huge_pages(*shape, like=like)]
            return [empty_on_huge_pages(*shape, like=like).zero_() for _ in ranges]

        out_g = buffers(needs[0], grad_out, dst, num_nodes)
        out_x = buffers(needs[1], x, src)
        out_y, out_w, out_h = (buffers(needs[k], t, None) for k, t in ((2, y), (3, weight), (4, hidden)))
        out_m = None if mlp is None or not needs[5] else [torch.zeros_like(mlp) for _ in ranges]
        n_hidden = 0 if hidden is None else hidden.shape[1]

        def node_orrow(parts: list | None, index: torch.Tensor | None, a: int, i: int) -> int | None:
            return None if parts is None else (ptr(parts[i]) if index is not None else row(parts[0], a))

        def args(a: int, b: int, i: int) -> tuple:
            return (
                ptr(x) if src is not None else row(x, a), row(y, a), row(weight, a), row(hidden, a),
                ptr(mlp), n_hidden, ptr(grad_out) if dst is not None else row(grad_out, a),
                ptr(cx) if src is not None else row(cx, a), row(cy, a), row(cw, a), row(ch, a), ptr(cm),
                node_orrow(out_g, dst, a, i), node_orrow(out_x, src, a, i),
                *(None if o is None else row(o[0], a) for o in (out_y, out_w, out_h)),
                None if out_m is None else ptr(out_m[i]), row(src, a), row(dst, a),
            )  # fmt: skip

        self._call("double_backward", x, numel, rows, args, hidden is not None)
        grads = [summed(o) for o in (out_x, out_y, out_w, out_h, out_m)]
        return summed(out_g), grads
