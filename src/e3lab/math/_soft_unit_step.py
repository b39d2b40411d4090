"""A smooth (C-infinity) unit step."""

from __future__ import annotations

import torch

# exp(-1/x) underflows to exactly 0 for x < 1/746 in float64 (and earlier in float32/float16), so
# treating x <= _FLAT as the flat part changes no value; it keeps autograd from forming 0 * inf
# (exp(-1/x) times 1/x^2) for tiny positive x.
_FLAT = 1e-3


def soft_unit_step(x: torch.Tensor) -> torch.Tensor:
    r"""Smooth unit step :math:`\theta(x) e^{-1/x}`, zero for :math:`x \le 0`.

    Args:
        x: ``[...]`` any floating tensor.

    Returns:
        ``[...]``, same shape and dtype as ``x``. The derivative is finite everywhere (zero for
        ``x <= 0``), including at and just above ``x = 0``; higher derivatives work through autograd.
    """
    positive = x > _FLAT
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, torch.exp(-1.0 / safe), torch.zeros_like(x))
