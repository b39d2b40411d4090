"""Wigner D matrices of SO(3) in e3nn's real basis, and the Lie algebra generators behind them.

The real basis of the irrep ``l`` is indexed by ``m = -l..l`` with ``y`` as the polar axis, so that
``wigner_D(1, a, b, c) == angles_to_matrix(a, b, c)``. ``D(a, b, c) = exp(a X_y) exp(b X_x) exp(c X_y)``
is evaluated in closed form: a rotation about ``y`` only mixes ``m`` with ``-m``, and a rotation about
``x`` is a rotation about ``y`` conjugated by the fixed matrix of a quarter turn about ``z``.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["change_basis_real_to_complex", "so3_generators", "su2_generators", "wigner_D"]

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def su2_generators(j: float) -> torch.Tensor:
    """Generators ``(-i J_y, i J_z, i J_x)`` of the spin-``j`` irrep in the ``|j, m>`` basis.

    Returns a complex128 tensor ``[3, 2j+1, 2j+1]``; ``m`` runs from ``-j`` to ``j``. The order matches
    e3nn's, so that after :func:`change_basis_real_to_complex` the three are the x, y and z generators.
    """
    m = torch.arange(-j, j + 1, dtype=torch.float64)
    # J+ |m> = sqrt(j(j+1) - m(m+1)) |m+1>
    j_plus = torch.diag(torch.sqrt(j * (j + 1) - m[:-1] * (m[:-1] + 1)), diagonal=-1).to(torch.complex128)
    j_minus = j_plus.T
    j_x = (j_plus + j_minus) / 2
    j_y = (j_plus - j_minus) / 2j
    j_z = torch.diag(m).to(torch.complex128)
    return torch.stack([-1j * j_y, 1j * j_z, 1j * j_x])


@functools.cache
def _real_to_complex(l: int) -> torch.Tensor:
    q = torch.zeros(2 * l + 1, 2 * l + 1, dtype=torch.complex128)
    q[l, l] = 1
    r = 2**-0.5
    for m in range(1, l + 1):
        sign = (-1) ** m
        # complex |l, -m> and |l, +m> from the real cosine-like (index l+m) and sine-like (l-m) components
        q[l - m, l + m], q[l - m, l - m] = r, -1j * r
        q[l + m, l + m], q[l + m, l - m] = sign * r, 1j * sign * r
    # the global phase (-i)^l makes the Clebsch-Gordan coefficients real in the real basis
    return q * (-1j) ** l


def change_basis_real_to_complex(l: int, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """Unitary ``Q: [2l+1, 2l+1]`` with ``complex = Q @ real`` (rows: complex ``m``, columns: real ``m``).

    ``dtype`` is the real dtype (default: torch's default); the result is the matching complex dtype.
    """
    dtype = _COMPLEX[dtype or torch.get_default_dtype()]
    return _real_to_complex(l).to(dtype=dtype, device=device, copy=True)


@functools.cache
def _so3_generators(l: int) -> torch.Tensor:
    Q = _real_to_complex(l)
    X = Q.conj().T @ su2_generators(l) @ Q
    return X.real.contiguous()


def so3_generators(l: int) -> torch.Tensor:
    """Real generators ``[3, 2l+1, 2l+1]`` of rotations about x, y and z in the real basis (float64).

    ``wigner_D(l, a, b, c) = exp(a X[1]) exp(b X[0]) exp(c X[1])``.
    """
    return _so3_generators(l).clone()


@functools.cache
def _wigner_constants(l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(freq, Y, P)`` in float64: ``exp(a X_y) = diag(cos(freq a)) + Y * sin(freq a)[:, None]``.

    ``freq = |m|``, ``Y = X_y / |m|`` row-wise (``X_y`` only couples ``m`` and ``-m``), and
    ``P = exp(-pi/2 X_z)`` turns rotations about ``y`` into rotations about ``x``.
    """
    X = _so3_generators(l)
    freq = torch.arange(-l, l + 1, dtype=torch.float64).abs()
    Y = X[1] / freq.clamp(min=1)[:, None]
    P = torch.linalg.matrix_exp(-math.pi / 2 * X[2])
    return freq, Y, P


def _rotation_about_y(l: int, angle: torch.Tensor) -> torch.Tensor:
    freq, Y, _ = _wigner_constants(l)
    freq = freq.to(dtype=angle.dtype, device=angle.device)
    phase = angle[..., None] * freq
    Y = Y.to(dtype=angle.dtype, device=angle.device)
    return torch.diag_embed(phase.cos()) + Y * phase.sin()[..., :, None]


def wigner_D(l: int, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Wigner D matrix of the irrep ``l`` in the real basis: ``exp(a X_y) exp(b X_x) exp(c X_y)``.

    Args:
        l: the degree, an int >= 0.
        alpha, beta, gamma: Euler angles ``[...]`` (broadcast together), as in ``angles_to_matrix``.

    Returns:
        ``[..., 2l+1, 2l+1]`` in the angles' dtype; ``wigner_D(1, a, b, c) == angles_to_matrix(a, b, c)``.
    """
    if isinstance(l, bool) or not isinstance(l, int) or l < 0:
        raise ValueError(f"wigner_D needs an int l >= 0, got {l!r}")
    alpha, beta, gamma = torch.broadcast_tensors(alpha, beta, gamma)
    P = _wigner_constants(l)[2].to(dtype=alpha.dtype, device=alpha.device)
    D_x = P @ _rotation_about_y(l, beta) @ P.T
    return _rotation_about_y(l, alpha) @ D_x @ _rotation_about_y(l, gamma)
