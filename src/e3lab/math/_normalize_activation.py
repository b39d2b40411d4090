"""Rescale a scalar activation so that its output has unit second moment on N(0, 1) inputs."""

from __future__ import annotations

from collections.abc import Callable

import torch

# Grid for the Gaussian expectation: composite Simpson rule on [-_HALF_WIDTH, _HALF_WIDTH].
# The mass of N(0, 1) outside is ~1e-33, and Simpson's error is ~1e-8 even for functions with a
# kink (relu), far below the Monte Carlo noise (~1e-3) of e3nn's estimate.
_HALF_WIDTH = 12.0
_POINTS = 200_001


def _gaussian_quadrature(device: torch.device | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes z and weights w (float64) with sum_k w_k g(z_k) ~ E[g(z)], z ~ N(0, 1)."""
    z = torch.linspace(-_HALF_WIDTH, _HALF_WIDTH, _POINTS, dtype=torch.float64, device=device)
    h = 2 * _HALF_WIDTH / (_POINTS - 1)
    simpson = torch.ones(_POINTS, dtype=torch.float64, device=device)
    simpson[1:-1:2] = 4.0
    simpson[2:-1:2] = 2.0
    density = torch.exp(-0.5 * z**2) / (2 * torch.pi) ** 0.5
    return z, simpson * density * (h / 3)


def moment(f: Callable[[torch.Tensor], torch.Tensor], n: int, device: torch.device | None = None) -> float:
    """E[f(z)^n] for z ~ N(0, 1), by deterministic quadrature in float64."""
    z, w = _gaussian_quadrature(device)
    with torch.no_grad():
        return float((f(z).to(torch.float64).pow(n) * w).sum())


class normalize2mom(torch.nn.Module):  # noqa: N801 (e3nn's name)
    r"""Wrap a scalar function ``f`` as :math:`f(x) \cdot c`, :math:`c = E[f(z)^2]^{-1/2}`, z ~ N(0, 1).

    The constant is computed once, deterministically (Simpson quadrature of the Gaussian
    expectation). e3nn estimates it from a fixed-seed sample of 10^6 normals, so the two constants
    agree to ~1e-3 relative, not exactly; a test that compares a model with e3nn's copies e3nn's
    constant into ``cst``. As in e3nn, a constant within 1e-4 of 1 is treated as exactly 1.

    Args:
        f: elementwise function (or module) of a tensor.
        dtype: unused, accepted for e3nn compatibility (the constant is a Python float).
        device: device on which ``f`` is evaluated to compute the constant.

    Forward: ``x: [...] -> [...]``.
    """

    cst: float

    def __init__(
        self,
        f: Callable[[torch.Tensor], torch.Tensor],
        dtype: torch.dtype | None = None,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        if not callable(f):
            raise TypeError(f"normalize2mom needs a callable activation, got {f!r}")
        second = moment(f, 2, device=device)
        if not second > 0:
            raise ValueError(f"activation {f!r} has second moment {second} on N(0, 1): cannot normalise it")
        cst = second**-0.5
        self.f = f
        self.cst = 1.0 if abs(cst - 1) < 1e-4 else cst

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [...] -> [...]``, ``f(x) * cst``."""
        if self.cst == 1.0:
            return self.f(x)
        return self.f(x) * self.cst

    def extra_repr(self) -> str:
        return f"f={getattr(self.f, '__name__', self.f)}, cst={self.cst:.6f}"
