"""The fused tensor-product kernels as PyTorch custom operators, so that ``torch.compile`` keeps them.

``e3lab::tp_product`` is ``P`` and ``e3lab::tp_product_grad`` is ``B`` of :mod:`._autograd`, each with a
fake (meta) implementation for tracing and an autograd formula made of the two operators again (the same
algebra as :class:`._autograd.ProductGrad`), so a compiled model, or a force field traced with ``make_fx``
and compiled, calls the native or Triton kernels at every order of derivative. A kernel set is named by an
integer key (:func:`register`): operators take tensors and numbers only.

:func:`apply_product` is the entry point: eager calls go through the lighter ``autograd.Function`` of
:mod:`._autograd`; calls being traced (``torch.compile``, ``make_fx``, fake tensors) through the operators.
"""

from __future__ import annotations

import torch
from torch import Tensor

from e3lab import _value_checks
from e3lab.o3._tensor_product._autograd import (
    N_SLOTS,
    Edges,
    Kernels,
    Slots,
    backward_vjp,
    eager_product,
    gradient_edges,
    needed,
)

__all__ = ["apply_product", "check_indices", "register", "tracing"]

_registry: list[Kernels] = []  # kept for the process's life: a compiled graph may hold any key
_PLAIN = (torch.Tensor, torch.nn.Parameter)


def register(kernels: Kernels) -> int:
    """The operators' key for ``kernels`` (a copy of the object shares its original's key and tables)."""
    _registry.append(kernels)
    return len(_registry) - 1


def check_indices(name: str, index: Tensor, size: int) -> None:
    """Raise unless every entry of ``index`` lies in ``[0, size)`` (the kernels read and write there).

    On the CPU only: GPU indices are checked where their batch is made, as reading them here would stall
    the host in every training step (see ``e3lab._value_checks``).
    """
    if not _value_checks.values_checkable(index):
        return
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
        raise ValueError(f"{name} has indices outside [0, {size - 1}]")


def _edges(src: Tensor | None, dst: Tensor | None, num_nodes: int) -> Edges | None:
    return None if src is None else (src, dst, num_nodes)


def _contiguous(slots: Slots) -> Slots:
    return tuple(None if t is None else t.contiguous() for t in slots)


def tracing(slots: Slots) -> bool:
    """Whether this call is being traced (dynamo, ``make_fx``, fake or functional tensors)."""
    return _value_checks.being_traced() or any(t is not None and type(t) not in _PLAIN for t in slots)


def apply_product(kernels: Kernels, slots: Slots, edges: Edges | None = None) -> Tensor:
    """``P(slots)`` (``slots = (x, y, weight, hidden, matrix)``, unused ones ``None``), differentiable at
    every order. With ``edges = (src, dst, num_nodes)``, ``x`` is a node array read at ``src`` and the rows
    are summed into ``dst``: ``[num_nodes, out.dim]``."""
    if edges is not None:
        num_nodes = edges[2] if isinstance(edges[2], torch.SymInt) else int(edges[2])  # symbolic stays so
        edges = (edges[0].long().contiguous(), edges[1].long().contiguous(), num_nodes)
    if tracing(slots):
        src, dst, num_nodes = edges if edges is not None else (None, None, 0)
        return torch.ops.e3lab.tp_product(kernels.key, *slots, src, dst, num_nodes)
    return eager_product(kernels, slots, edges)


@torch.library.custom_op("e3lab::tp_product", mutates_args=())
def tp_product(
    kernels: int,
    x: Tensor,
    y: Tensor,
    weight: Tensor | None,
    hidden: Tensor | None,
    matrix: Tensor | None,
    src: Tensor | None,
    dst: Tensor | None,
    num_nodes: int,
) -> Tensor:
    """``P``: ``[rows, out.dim]``, or ``[num_nodes, out.dim]`` with ``src``/``dst``."""
    if src is not None:  # traced callers cannot check data-dependent bounds; the kernels need them
        check_indices("edge_src", src, x.shape[0])
        check_indices("edge_dst", dst, num_nodes)
    slots = _contiguous((x, y, weight, hidden, matrix))
    return _registry[kernels].forward(*slots, edges=_edges(src, dst, num_nodes))


@tp_product.register_fake
def _(kernels, x, y, weight, hidden, matrix, src, dst, num_nodes):
    rows = num_nodes if dst is not None else y.shape[0]
    return x.new_empty(rows, _registry[kernels].dim_out)


@torch.library.custom_op("e3lab::tp_product_grad", mutates_args=())
def tp_product_grad(
    kernels: int,
    wanted: list[bool],
    g: Tensor,
    x: Tensor,
    y: Tensor,
    weight: Tensor | None,
    hidden: Tensor | None,
    matrix: Tensor | None,
    src: Tensor | None,
    dst: Tensor | None,
    num_nodes: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``B``: gradients for the slots, an empty tensor where not wanted."""
    slots = _contiguous((x, y, weight, hidden, matrix))
    edges = _edges(src, dst, num_nodes)
    grads = _registry[kernels].backward(g.contiguous(), *slots, needs=tuple(wanted), edges=edges)
    return tuple(g.new_empty(0) if t is None else t for t in grads)


@tp_product_grad.register_fake
def _(kernels, wanted, g, x, y, weight, hidden, matrix, src, dst, num_nodes):
    slots = (x, y, weight, hidden, matrix)
    return tuple(
        torch.empty_like(t) if want and t is not None else g.new_empty(0)
        for want, t in zip(wanted, slots, strict=True)
    )


@torch.library.custom_op("e3lab::tp_product_grad_grad", mutates_args=())
def tp_product_grad_grad(
    kernels: int,
    needs: list[bool],
    g: Tensor,
    x: Tensor,
    y: Tensor,
    weight: Tensor | None,
    hidden: Tensor | None,
    matrix: Tensor | None,
    cx: Tensor | None,
    cy: Tensor | None,
    cw: Tensor | None,
    ch: Tensor | None,
    cm: Tensor | None,
    src: Tensor | None,
    dst: Tensor | None,
    num_nodes: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The gradient of ``B`` in one fused pass (``double_backward`` of the kernel set; not differentiable):
    gradients of ``g`` and of the slots, an empty tensor where not wanted."""
    slots = _contiguous((x, y, weight, hidden, matrix))
    cotangents = _contiguous((cx, cy, cw, ch, cm))
    edges = _edges(src, dst, num_nodes)
    grad_g, grads = _registry[kernels].double_backward(g.contiguous(), slots, cotangents, tuple(needs), edges)
    outputs = (grad_g, *grads)
    return tuple(  # a wanted gradient the kernel knows to be zero is a zero tensor, as in the fake
        out if out is not None else torch.zeros_like(like) if want and like is not None else g.new_empty(0)
        for out, want, like in zip(outputs, needs, (g, *slots), strict=True)
    )


@tp_product_grad_grad.register_fake
def _(kernels, needs, g, x, y, weight, hidden, matrix, cx, cy, cw, ch, cm, src, dst, num_nodes):
    tensors = (g, x, y, weight, hidden, matrix)
    return tuple(
        torch.empty_like(t) if want and t is not None else g.new_empty(0)
        for want, t in zip(needs, tensors, strict=True)
    )


def _grads(outputs: tuple[Tensor, ...], wanted: list[bool]) -> list[Tensor | None]:
    return [t if want else None for t, want in zip(outputs, wanted, strict=True)]


def _setup(ctx, inputs: tuple, tensors: tuple, edges_at: int) -> None:
    ctx.key, ctx.graph_edges = inputs[0], inputs[edges_at:]
    ctx.save_for_backward(*tensors)
    ctx.grad_edges = gradient_edges(tensors, read=not tracing(tensors))
    ctx.set_materialize_grads(False)


def _setup_product(ctx, inputs: tuple, output: Tensor) -> None:
    _setup(ctx, inputs, inputs[1:6], 6)


def _product_backward(ctx, g: Tensor | None):
    needs = needed(ctx.needs_input_grad[1:6], ctx.grad_edges)
    if g is None or not any(needs):
        return (None, *[None] * N_SLOTS, None, None, None)
    outputs = torch.ops.e3lab.tp_product_grad(ctx.key, list(needs), g, *ctx.saved_tensors, *ctx.graph_edges)
    return (None, *_grads(outputs, list(needs)), None, None, None)


def _setup_product_grad(ctx, inputs: tuple, output: tuple) -> None:
    _setup(ctx, inputs, inputs[2:8], 8)


def _product_grad_backward(ctx, *cotangents: Tensor | None):
    g, *slots = ctx.saved_tensors
    needs = needed(ctx.needs_input_grad[2:8], ctx.grad_edges)
    if not any(needs) or all(c is None for c in cotangents):
        return (None, None, None, *[None] * N_SLOTS, None, None, None)
    key, graph_edges = ctx.key, ctx.graph_edges

    def product(s: Slots) -> Tensor:
        return torch.ops.e3lab.tp_product(key, *s, *graph_edges)

    def product_grad(wanted: tuple[bool, ...], s: Slots) -> Slots:
        return _grads(torch.ops.e3lab.tp_product_grad(key, list(wanted), g, *s, *graph_edges), list(wanted))

    cotangents = _contiguous(cotangents)
    if not torch.is_grad_enabled() and hasattr(_registry[key], "double_backward"):
        fused = torch.ops.e3lab.tp_product_grad_grad(key, list(needs), g, *slots, *cotangents, *graph_edges)
        grad_g, *grads = _grads(fused, list(needs))
    else:
        grad_g, grads = backward_vjp(product, product_grad, tuple(slots), cotangents, needs)
    return (None, None, grad_g, *grads, None, None, None)


tp_product.register_autograd(_product_backward, setup_context=_setup_product)
tp_product_grad.register_autograd(_product_grad_backward, setup_context=_setup_product_grad)
