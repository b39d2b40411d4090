r"""Derivatives of every order for the fused tensor-product kernels (native C on CPU, Triton on CUDA).

A kernel set computes the product ``P(x, y, W)`` of the convolution shape, with ``W`` either given per row
(``weight``) or as ``hidden @ matrix`` (the radial MLP's last layer), and its backward
``B(g, x, y, W) = (grad x, grad y, grad weight, grad hidden, grad matrix)``. ``P`` is linear in each of its
*slots* ``a = (x, y, weight, hidden, matrix)`` separately, and each component of ``B`` is linear in ``g`` and
in every slot but its own. Hence, with cotangents ``c_s`` for the components of ``B``,

.. math::

    \sum_s \langle c_s, B_s(g, a) \rangle = \sum_s \langle g, P(a \,|\, a_s := c_s) \rangle ,

so the gradient of the backward is again made of the two kernels: ``grad g = sum_s P(a | a_s := c_s)`` and
``grad a_t = sum_{s != t} B_t(g, a | a_s := c_s)`` (:func:`backward_vjp`). :class:`ProductGrad`'s backward is
built that way from :class:`Product` and :class:`ProductGrad` themselves, so every order of derivative stays
on the kernels (forces by ``create_graph=True``, then their training gradient). When no graph is being
recorded and the kernel set has a fused ``double_backward``, that one pass replaces the composition.

Gradients nobody will use are not computed: besides ``ctx.needs_input_grad``, each input's autograd node is
asked whether the running backward pass will execute it (forces by ``autograd.grad(energy, pos)`` then skip
the weight-matrix gradient). Inputs go through a view first, so that this node is one only this call feeds.

These autograd functions serve eager mode; under ``torch.compile`` or ``make_fx`` the same algebra runs on
the custom operators of :mod:`._ops`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch

__all__ = [
    "N_SLOTS",
    "Edges",
    "Kernels",
    "Product",
    "ProductGrad",
    "Slots",
    "aliased",
    "backward_vjp",
    "eager_product",
    "gradient_edges",
    "needed",
]

Edges = tuple[torch.Tensor, torch.Tensor, int]  # (src, dst, num_nodes) of message passing
Slots = tuple[torch.Tensor | None, ...]  # (x, y, weight, hidden, matrix)
N_SLOTS = 5


class Kernels(Protocol):
    """What the autograd functions need from a kernel set (see the module docstring for ``P`` and ``B``).

    A kernel set may also define ``double_backward(g, slots, cotangents, needs, edges) -> (grad_g, grads)``:
    :func:`backward_vjp` in one fused pass, used when no graph is recorded.
    """

    def forward(self, *slots: torch.Tensor | None, edges: Edges | None) -> torch.Tensor: ...

    def backward(
        self, g: torch.Tensor, *slots: torch.Tensor | None, needs: Sequence[bool], edges: Edges | None
    ) -> Slots: ...


def add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    """``a + b`` where ``None`` stands for zero."""
    if a is None:
        return b
    return a if b is None else a + b


def aliased(t: torch.Tensor | None) -> torch.Tensor | None:
    """``t`` through a view when it requires grad: its autograd node is then one only this call feeds."""
    if t is None or not t.requires_grad or not torch.is_grad_enabled():
        return t
    return t.view_as(t)


_UNKNOWN = object()  # an input whose autograd node could not be read: assume its gradient is wanted


def gradient_edges(tensors: Sequence[torch.Tensor | None], read: bool = True) -> list[Any]:
    """Each input's autograd edge (``None``: no gradient), read when the call is recorded (``read=False``
    while tracing: every gradient counts as wanted)."""
    edges = []
    for t in tensors:
        if t is None or not t.requires_grad:
            edges.append(None)
            continue
        if not read:
            edges.append(_UNKNOWN)
            continue
        try:  # a leaf reached without a view (no graph recorded) has no node to read
            edges.append(torch.autograd.graph.get_gradient_edge(t))
        except (RuntimeError, AttributeError, AssertionError):
            edges.append(_UNKNOWN)
    return edges


def _will_run(edge: Any) -> bool:
    """Whether the running backward pass needs the gradient flowing into ``edge`` (``True`` if unknown)."""
    if edge is None:
        return False
    if edge is _UNKNOWN:
        return True
    try:
        return bool(torch._C._will_engine_execute_node(edge.node))
    except (RuntimeError, AttributeError):
        return True


def needed(flags: Sequence[bool], edges: Sequence[Any]) -> tuple[bool, ...]:
    """``needs_input_grad`` flags, off where the running backward pass will not use the gradient."""
    return tuple(bool(f) and _will_run(e) for f, e in zip(flags, edges, strict=True))


def backward_vjp(
    product: Callable[[Slots], torch.Tensor],
    product_grad: Callable[[tuple[bool, ...], Slots], Slots],
    slots: Slots,
    cotangents: Slots,
    needs: Sequence[bool],
) -> tuple[torch.Tensor | None, list[torch.Tensor | None]]:
    """The vector-Jacobian product of ``B(g, slots)`` by composition (module docstring).

    ``product(slots)`` is ``P``, ``product_grad(wanted, slots)`` is ``B(g, slots)`` restricted to the wanted
    slots (``g`` bound by the caller); both differentiable. ``needs``: for ``g`` then each slot.
    Returns ``(grad g, [grad slot])``.
    """
    grad_g, grads = None, [None] * N_SLOTS
    for s, c in enumerate(cotangents):
        if c is None or slots[s] is None:
            continue
        replaced = (*slots[:s], c, *slots[s + 1 :])
        if needs[0]:
            grad_g = add(grad_g, product(replaced))
        wanted = tuple(bool(needs[1 + t]) and t != s and slots[t] is not None for t in range(N_SLOTS))
        if any(wanted):
            grads = [add(a, b) for a, b in zip(grads, product_grad(wanted, replaced), strict=True)]
    return grad_g, grads


def eager_product(kernels: Kernels, slots: Slots, edges: Edges | None) -> torch.Tensor:
    """``P(slots)`` through :class:`Product` (inputs contiguous, through their own views)."""
    return Product.apply(kernels, edges, *(None if t is None else aliased(t.contiguous()) for t in slots))


class Product(torch.autograd.Function):
    """``P(x, y, weight, hidden, matrix)``; its backward is :class:`ProductGrad` (differentiable)."""

    @staticmethod
    def forward(ctx, kernels: Kernels, edges: Edges | None, *slots: torch.Tensor | None) -> torch.Tensor:
        ctx.kernels, ctx.edges = kernels, edges
        ctx.grad_edges = gradient_edges(slots)
        ctx.save_for_backward(*slots)
        ctx.set_materialize_grads(False)
        return kernels.forward(*slots, edges=edges)

    @staticmethod
    def backward(ctx, g: torch.Tensor | None):
        needs = needed(ctx.needs_input_grad[2:], ctx.grad_edges)
        if g is None or not any(needs):
            return (None, None, *[None] * N_SLOTS)
        g = aliased(g.contiguous())
        grads = ProductGrad.apply(ctx.kernels, ctx.edges, needs, g, *ctx.saved_tensors)
        return (None, None, *grads)


class ProductGrad(torch.autograd.Function):
    """``B(g, x, y, weight, hidden, matrix)`` restricted to the wanted slots; differentiable again."""

    @staticmethod
    def forward(ctx, kernels: Kernels, edges: Edges | None, wanted: tuple[bool, ...], g, *slots):
        ctx.kernels, ctx.edges = kernels, edges
        ctx.grad_edges = gradient_edges((g, *slots))
        ctx.save_for_backward(g, *slots)
        ctx.set_materialize_grads(False)
        return tuple(kernels.backward(g, *slots, needs=wanted, edges=edges))

    @staticmethod
    def backward(ctx, *cotangents: torch.Tensor | None):
        g, *slots = ctx.saved_tensors
        needs = needed(ctx.needs_input_grad[3:], ctx.grad_edges)
        cotangents = tuple(None if c is None else c.contiguous() for c in cotangents)
        if not any(needs) or all(c is None for c in cotangents):
            return (None, None, None, None, *[None] * N_SLOTS)
        kernels, edges = ctx.kernels, ctx.edges
        fused = getattr(kernels, "double_backward", None)
        if fused is not None and not torch.is_grad_enabled():
            grad_g, grads = fused(g, tuple(slots), cotangents, needs, edges)
        else:
            grad_g, grads = backward_vjp(
                lambda s: eager_product(kernels, s, edges),
                lambda wanted, s: ProductGrad.apply(kernels, edges, wanted, aliased(g), *map(aliased, s)),
                tuple(slots),
                cotangents,
                needs,
            )
        return (None, None, None, grad_g, *grads)
