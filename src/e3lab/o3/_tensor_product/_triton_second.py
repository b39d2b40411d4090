"""Source of the second-order Triton kernel of :mod:`._triton_tp`: the gradient of the backward in one pass.

With cotangents ``cx``, ``cy``, ``cw`` of the backward's outputs (``grad x``, ``grad y``, ``grad w``) and
``P`` / ``B`` the product and its backward (see :mod:`._autograd`), a program computes for its rows

- ``grad g = P(cx, y, w) + P(x, cy, w) + P(x, y, cw)`` (summed into ``dst`` with ``SCATTER``),
- ``grad x = B_x(g, cy, w) + B_x(g, y, cw)`` (summed into ``src`` with ``GATHER``),
- ``grad y = B_y(g, cx, w) + B_y(g, x, cw)`` and ``grad w = B_w(g, cx, y) + B_w(g, x, cy)``,

each term being the first-order kernels' code (:class:`._triton_source.Emitter`) on swapped operands, with
shared loads and one store (or atomic add) per output. A kernel is generated per set of present cotangents
(absent ones cost nothing); ``NEED_*`` flags drop unwanted outputs at compile time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from e3lab.o3._tensor_product._triton_source import _HEADER, Emitter, KernelSpec, _accumulate, prologue

__all__ = ["second_order_source"]


@dataclass(frozen=True)
class _Term:
    """One term of the sums above: its operands and which of ``x``, ``y``, ``w`` it has a gradient for."""

    tag: str
    x: str
    y: str
    w: str
    grads: frozenset[str]


_TERMS = (  # the term replacing x, the one replacing y, the one replacing w
    _Term("a", "cx", "y", "w", frozenset({"y", "w"})),
    _Term("b", "x", "cy", "w", frozenset({"x", "w"})),
    _Term("c", "x", "y", "cw", frozenset({"x", "y"})),
)

_SIGNATURE = (
    "@triton.jit\n"
    "def second_order(x_ptr, y_ptr, w_ptr, gout_ptr, cx_ptr, cy_ptr, cw_ptr,\n"
    "                 og_ptr, ox_ptr, oy_ptr, ow_ptr, src_ptr, dst_ptr, rows, rows_bucket,\n"
    "                 BLOCK_E: tl.constexpr, BC: tl.constexpr, GATHER: tl.constexpr, SCATTER: tl.constexpr,\n"
    "                 NEED_G: tl.constexpr, NEED_X: tl.constexpr, NEED_Y: tl.constexpr,\n"
    "                 NEED_W: tl.constexpr):"
)


def _grad_g(spec: KernelSpec, lines: list[str], emitters: dict[str, Emitter]) -> None:
    """``grad g``: the forward kernel's sums over paths, over the terms present."""
    lines += [
        "    if SCATTER:",
        "        first = tl.load(dst_ptr + tl.program_id(0).to(tl.int64) * BLOCK_E).to(tl.int64)",
        "        same = tl.where(rm, orow, first)",
        "        uniform = (tl.min(same, axis=0) == first) & (tl.max(same, axis=0) == first)",
    ]
    for out in sorted(spec.used_outs):
        o = spec.outs[out]
        acc: dict[int, str | None] = dict.fromkeys(range(o.dim))
        for index, p in enumerate(spec.paths):
            if p.out != out:
                continue
            for emit in emitters.values():
                ys = emit.y_sums(index)
                for u in range(spec.terms[p.term].mul) if p.uvw else [None]:
                    w = emit.weight(index, u)
                    for k, t in emit.t(index, ys, u).items():
                        acc[k] = _accumulate(lines, f"og{out}_{k}", acc[k], f"{w} * {t}")
        any_emit = next(iter(emitters.values()))
        ch = any_emit.channels(o.mul)
        for k, value in acc.items():
            if value is None:
                continue
            pointer, mask = any_emit.out_pointer(out, k, "og_ptr")
            node_pointer = f"og_ptr + first * {spec.dim_out} + {o.offset + k} + {ch} * {o.dim}"
            row_sum, channels = f"tl.sum({value}, axis=0)", f"{ch} < {o.mul}"
            lines += [
                "    if NEED_G:",
                "        if SCATTER:",
                "            if uniform:",
                f"                tl.atomic_add({node_pointer}, {row_sum}, mask={channels}, sem='relaxed')",
                "            else:",
                f"                tl.atomic_add({pointer}, {value}, mask={mask}, sem='relaxed')",
                "        else:",
                f"            tl.store({pointer}, {value}, mask={mask})",
            ]


def _grads_of_slots(spec: KernelSpec, lines: list[str], emitters: dict[str, Emitter], wanted: str) -> None:
    """``grad x``, ``grad y``, ``grad w`` (those in ``wanted``): the backward kernel's code, per term, summed
    before storing; ``grad w`` of a path is stored as soon as its terms are done (short register life)."""
    gy: dict[int, str] = {}
    any_emit = next(iter(emitters.values()))
    for term in sorted(spec.used_terms):
        t_spec = spec.terms[term]
        gx: dict[tuple[int | None, int], str | None] = defaultdict(lambda: None)
        for index, p in enumerate(spec.paths):
            if p.term != term:
                continue
            for u in range(t_spec.mul) if p.uvw else [None]:
                suffix = "" if u is None else f"_{u}"
                gw_parts = []
                for item, emit in emitters.items():
                    grads = next(t for t in _TERMS if t.tag == item).grads & set(wanted)
                    if not grads:
                        continue
                    ys = emit.y_sums(index)
                    w, t = emit.weight(index, u), emit.t(index, ys, u)
                    g = {k: emit.grad_out(p.out, k) for k in t}
                    if "w" in grads:
                        gw_parts.append(" + ".join(f"{t[k]} * {g[k]}" for k in t))
                    pulls = {}
                    for k in t:
                        pull = f"tl.sum({w} * {g[k]}, axis=1)[:, None]" if p.uvw else f"{w} * {g[k]}"
                        pulls[k] = f"{item}s{index}{suffix}_{k}"
                        lines.append(f"    {pulls[k]} = {pull}")
                    if "x" in grads:
                        for (i, k), y_sum in ys.items():
                            name = f"gx{term}{suffix}_{i}"
                            gx[(u, i)] = _accumulate(lines, name, gx[(u, i)], f"{pulls[k]} * {y_sum}")
                    if "y" in grads:
                        by_ij: dict[tuple[int, int], list[str]] = defaultdict(list)
                        for i, j, k, c in p.cg:
                            by_ij[(i, p.y_offset + j)].append(f"{c!r} * {pulls[k]}")
                        for (i, j), parts in by_ij.items():
                            x = emit.x_tile(term, i) if u is None else emit.x_column(term, u, i)
                            part = f"{x} * ({' + '.join(parts)})"
                            part = part if spec.blocked or p.uvw else f"tl.sum({part}, axis=1)[:, None]"
                            gy[j] = _accumulate(lines, f"gy{j}", gy.get(j), part)
                if gw_parts:
                    pointer, mask = any_emit.weight_pointer(index, u)
                    pointer = pointer.replace(f"{any_emit.w}_ptr", "ow_ptr")
                    lines += [
                        "    if NEED_W:",
                        f"        tl.store({pointer}, {' + '.join(gw_parts)}, mask={mask})",
                    ]
        for (u, i), value in gx.items():
            if u is None:
                ch = any_emit.channels(t_spec.mul)
                pointer = f"ox_ptr + xrow + {t_spec.offset + i} + {ch}r * {t_spec.dim}"
                mask = f"rm2 & ({ch}r < {t_spec.mul})"
            else:
                pointer, mask = f"ox_ptr + xrow + {t_spec.offset + u * t_spec.dim + i}", "rm2"
            atomic = f"tl.atomic_add({pointer}, {value}, mask={mask}, sem='relaxed')"
            lines.append("    if NEED_X:")
            if spec.mixed_terms:
                lines.append(f"        {atomic}")
            else:
                store = f"tl.store({pointer}, {value}, mask={mask})"
                lines += [
                    "        if GATHER:",
                    f"            {atomic}",
                    "        else:",
                    f"            {store}",
                ]
    if gy:
        lines.append("    if NEED_Y:")
    for j in sorted(gy):
        if spec.blocked:  # each channel block adds its part
            total = f"tl.sum({gy[j]}, axis=1)"
            lines.append(
                f"        tl.atomic_add(oy_ptr + r * {spec.dim2} + {j}, {total}, mask=rm, sem='relaxed')"
            )
        else:
            lines.append(f"        tl.store(oy_ptr + r[:, None] * {spec.dim2} + {j}, {gy[j]}, mask=rm2)")


def second_order_source(spec: KernelSpec, present: tuple[bool, bool, bool], part: str = "gxyw") -> str:
    """A module defining the ``second_order`` kernel of ``spec`` for the cotangents ``present``
    (``cx``, ``cy``, ``cw``; at least one), computing the gradients named in ``part`` (of ``g``, ``x``,
    ``y``, ``w``)."""
    if not any(present):
        raise ValueError("the second-order kernel needs at least one cotangent")
    lines = [_SIGNATURE, *prologue(spec)]
    if present[1]:
        for j in sorted(spec.used_y):
            lines.append(f"    cy{j} = tl.load(cy_ptr + r * {spec.dim2} + {j}, mask=rm, other=0.0)[:, None]")
    loaded: set[str] = set()
    emitters = {
        term.tag: Emitter(spec, lines, term.x, term.y, term.w, term.tag, loaded)
        for term, on in zip(_TERMS, present, strict=True)
        if on
    }
    if "g" in part:
        _grad_g(spec, lines, emitters)
    if set(part) & set("xyw"):
        _grads_of_slots(spec, lines, emitters, part)
    return "\n\n".join([_HEADER, "\n".join(lines) + "\n"])
