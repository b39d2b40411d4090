r"""Polynomial envelope that takes a radial function smoothly to zero at the cutoff (DimeNet, NequIP)."""

from __future__ import annotations

import torch


def poly_cutoff(x: torch.Tensor, max_radius: float, p: float = 6.0) -> torch.Tensor:
    r"""Envelope :math:`u(d) = 1 - \frac{(p+1)(p+2)}{2} d^p + p(p+2) d^{p+1} - \frac{p(p+1)}{2} d^{p+2}`.

    With :math:`d = x / \text{max_radius}` for :math:`0 \le d < 1` and :math:`u = 0` from the cutoff on. It is
    1 at :math:`d = 0`, and :math:`u`, :math:`u'` and :math:`u''` vanish at :math:`d = 1`, so energies built
    from it have continuous forces when an atom crosses the cutoff.

    Args:
        x: ``[...]`` distances (>= 0).
        max_radius: the cutoff radius (> 0).
        p: the polynomial's order (> 0; NequIP's default is 6).

    Returns:
        ``[...]``, same shape and dtype as ``x``.
    """
    if not max_radius > 0:
        raise ValueError(f"max_radius={max_radius!r} must be > 0 (the cutoff radius)")
    if not p > 0:
        raise ValueError(f"p={p!r} must be > 0 (the order of the polynomial envelope)")
    d = x / max_radius
    inside = d < 1.0
    d = torch.where(inside, d, torch.zeros_like(d))  # no large powers (and no gradient) past the cutoff
    d_p = d.pow(p)
    u = 1.0 - (p + 1.0) * (p + 2.0) / 2.0 * d_p + p * (p + 2.0) * d_p * d - p * (p + 1.0) / 2.0 * d_p * d * d
    return torch.where(inside, u, torch.zeros_like(u))


class PolynomialCutoff(torch.nn.Module):
    """:func:`poly_cutoff` as a module. Forward: ``x: [...] -> [...]``."""

    def __init__(self, max_radius: float, p: float = 6.0) -> None:
        super().__init__()
        poly_cutoff(torch.zeros(1), max_radius, p)  # validates the arguments with its messages
        self.max_radius = float(max_radius)
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return poly_cutoff(x, self.max_radius, self.p)

    def extra_repr(self) -> str:
        return f"max_radius={self.max_radius:g}, p={self.p:g}"
