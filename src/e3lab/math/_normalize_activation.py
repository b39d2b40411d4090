"""Rescale a scalar activation so that its output has unit second moment on N(0, 1) inputs.

The constant is exact by default. ``constant="e3nn"`` (or :func:`set_normalize2mom_constant` /
:func:`normalize2mom_constant` for every activation built meanwhile) reproduces e3nn's Monte Carlo estimate
instead, so a model built from an e3nn checkpoint gives e3nn's outputs to float precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

CONSTANTS = ("exact", "e3nn")
_default_constant = "exact"
# e3nn's estimate: the mean of f(z)^2 over this many float64 normals drawn by a generator seeded with 0
_E3NN_SAMPLES = 1_000_000
_E3NN_SEED = 0

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


def _check_constant(constant: str) -> str:
    if constant not in CONSTANTS:
        raise ValueError(f"normalize2mom constant={constant!r}; expected one of {CONSTANTS}")
    return constant


def set_normalize2mom_constant(constant: str) -> None:
    """Choose how :class:`normalize2mom` computes its constant from now on: ``"exact"`` or ``"e3nn"``.

    It covers every activation built afterwards (``FullyConnectedNet``, ``Activation``, ``Gate``, ...) that
    does not pass ``constant=`` itself. Modules already built keep their constant.
    """
    global _default_constant
    _default_constant = _check_constant(constant)


def get_normalize2mom_constant() -> str:
    """The constant :class:`normalize2mom` uses when not told: ``"exact"`` (default) or ``"e3nn"``."""
    return _default_constant


@contextlib.contextmanager
def normalize2mom_constant(constant: str) -> Iterator[None]:
    """``with normalize2mom_constant("e3nn"): net = FullyConnectedNet(...)``: the setting inside the block."""
    previous = _default_constant
    set_normalize2mom_constant(constant)
    try:
        yield
    finally:
        set_normalize2mom_constant(previous)


def e3nn_moment(
    f: Callable[[torch.Tensor], torch.Tensor], n: int, device: torch.device | None = None
) -> float:
    """e3nn's Monte Carlo estimate of E[f(z)^n]: the mean over e3nn's fixed sample of 10^6 N(0, 1) (float64).

    The sample is drawn on ``device`` (default: torch's default device), as e3nn does; CPU and CUDA
    generators draw different samples, so the estimate depends on the device, as in e3nn.
    """
    device = torch.empty(0).device if device is None else torch.device(device)
    generator = torch.Generator(device=device).manual_seed(_E3NN_SEED)
    z = torch.randn(_E3NN_SAMPLES, generator=generator, dtype=torch.float64, device=device)
    with torch.no_grad():
        return float(f(z).pow(n).mean())


def _module_device(f: Callable) -> torch.device | None:
    """The device of ``f``'s first parameter or buffer, if ``f`` is a module that has one."""
    if isinstance(f, torch.nn.Module):
        for tensor in (*f.parameters(), *f.buffers()):
            return tensor.device
    return None


class normalize2mom(torch.nn.Module):  # noqa: N801 (e3nn's name)
    r"""Wrap a scalar function ``f`` as :math:`f(x) \cdot c`, :math:`c = E[f(z)^2]^{-1/2}`, z ~ N(0, 1).

    The constant is computed once. ``"exact"`` (the default): deterministic Simpson quadrature of the
    Gaussian expectation. ``"e3nn"``: e3nn's estimate from a fixed-seed sample of 10^6 normals, which is
    ~1e-3 relative off the exact value (so ``FullyConnectedNet`` and ``Gate`` outputs differ by up to
    ~1.6e-3 between the two); use it to reproduce an e3nn model. As in e3nn, a constant within 1e-4 of 1
    is treated as exactly 1.

    Args:
        f: elementwise function (or module) of a tensor.
        dtype: unused, accepted for e3nn compatibility (the constant is a Python float).
        device: device on which ``f`` is evaluated to compute the constant (for ``"e3nn"``: where the sample
            is drawn; default as in e3nn: ``f``'s own device if it is a module with parameters, else the
            default device).
        constant: ``"exact"`` or ``"e3nn"``; ``None`` follows :func:`set_normalize2mom_constant`.

    Forward: ``x: [...] -> [...]``.
    """

    cst: float

    def __init__(
        self,
        f: Callable[[torch.Tensor], torch.Tensor],
        dtype: torch.dtype | None = None,
        device: torch.device | None = None,
        constant: str | None = None,
    ) -> None:
        super().__init__()
        if not callable(f):
            raise TypeError(f"normalize2mom needs a callable activation, got {f!r}")
        self.constant = _check_constant(_default_constant if constant is None else constant)
        if self.constant == "e3nn":
            second = e3nn_moment(f, 2, device=device if device is not None else _module_device(f))
        else:
            second = moment(f, 2, device=device)
        if not second > 0:
            raise ValueError(f"activation {f!r} has second moment {second} on N(0, 1): cannot normalise it")
        # e3nn raises its float64 tensor estimate to -1/2 (an rsqrt); the same operation keeps its last bit
        cst = (
            torch.tensor(second, dtype=torch.float64).pow(-0.5).item()
            if self.constant == "e3nn"
            else second**-0.5
        )
        self.f = f
        self.cst = 1.0 if abs(cst - 1) < 1e-4 else cst

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [...] -> [...]``, ``f(x) * cst``."""
        if self.cst == 1.0:
            return self.f(x)
        return self.f(x) * self.cst

    def extra_repr(self) -> str:
        return f"f={getattr(self.f, '__name__', self.f)}, cst={self.cst:.6f} ({self.constant})"
