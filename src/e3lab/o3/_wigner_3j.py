"""Wigner 3j symbols (real Clebsch-Gordan coefficients) in e3nn's real basis and sign convention.

The complex coefficients ``<l1 m1 l2 m2 | l3 m3>`` come from Racah's formula in exact rational
arithmetic (Condon-Shortley phase), are moved to the real basis of :mod:`e3lab.o3._wigner`, and are
scaled to Frobenius norm 1. Everything is computed once per ``(l1, l2, l3)`` in float64 and cached.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch

from e3lab.o3._irrep import _as_int
from e3lab.o3._wigner import _real_to_complex

__all__ = ["wigner_3j"]

_f = math.factorial


def _racah_sum(l1: int, m1: int, l2: int, m2: int, l3: int) -> Fraction:
    """The alternating sum of Racah's formula for ``<l1 m1 l2 m2 | l3 m1+m2>``."""
    k_min = max(0, l2 - l3 - m1, l1 - l3 + m2)
    k_max = min(l1 + l2 - l3, l1 - m1, l2 + m2)
    total = Fraction(0)
    for k in range(k_min, k_max + 1):
        denominator = (
            _f(k)
            * _f(l1 + l2 - l3 - k)
            * _f(l1 - m1 - k)
            * _f(l2 + m2 - k)
            * _f(l3 - l2 + m1 + k)
            * _f(l3 - l1 - m2 + k)
        )
        total += Fraction((-1) ** k, denominator)
    return total


@functools.cache
def _complex_clebsch_gordan(l1: int, l2: int, l3: int) -> torch.Tensor:
    """``<l1 m1 l2 m2 | l3 m3>`` times a positive factor common to all entries.

    Returns float64 ``[2l1+1, 2l2+1, 2l3+1]``.
    """
    C = torch.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, dtype=torch.float64)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            m3 = m1 + m2
            s = _racah_sum(l1, m1, l2, m2, l3)
            if s == 0:
                continue
            square = _f(l3 + m3) * _f(l3 - m3) * _f(l1 - m1) * _f(l1 + m1) * _f(l2 - m2) * _f(l2 + m2) * s * s
            C[l1 + m1, l2 + m2, l3 + m3] = math.copysign(math.sqrt(float(square)), s)
    return C


@functools.cache
def _wigner_3j(l1: int, l2: int, l3: int) -> torch.Tensor:
    Q1, Q2, Q3 = _real_to_complex(l1), _real_to_complex(l2), _real_to_complex(l3)
    C = _complex_clebsch_gordan(l1, l2, l3).to(torch.complex128)
    # C_real[a, b, c] = sum Q1[i, a] Q2[j, b] conj(Q3[k, c]) C[i, j, k], one index at a time
    C = torch.tensordot(Q1, C, dims=([0], [0]))  # [a, j, k]
    C = torch.tensordot(Q2, C, dims=([0], [1]))  # [b, a, k]
    C = torch.tensordot(Q3.conj(), C, dims=([0], [2]))  # [c, b, a]
    C = C.permute(2, 1, 0).real.contiguous()
    return C / C.norm()


def wigner_3j(l1: int, l2: int, l3: int, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """Wigner 3j symbol ``C: [2l1+1, 2l2+1, 2l3+1]`` in the real basis, indexed ``(in1, in2, out)``.

    ``C`` is invariant, ``C_abc = C_ijk D1_ia D2_jb D3_kc`` for every rotation, has Frobenius norm 1, and
    matches e3nn's signs. ``dtype`` defaults to torch's default dtype. Raises ``ValueError`` unless
    ``|l1 - l2| <= l3 <= l1 + l2``.
    """
    l1, l2, l3 = (_as_int(l, "wigner_3j degree") for l in (l1, l2, l3))
    if min(l1, l2, l3) < 0:
        raise ValueError(f"wigner_3j degrees must be >= 0, got ({l1}, {l2}, {l3})")
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(
            f"wigner_3j({l1}, {l2}, {l3}) breaks the triangle rule |l1 - l2| <= l3 <= l1 + l2; "
            f"l3 must be in {abs(l1 - l2)}..{l1 + l2}"
        )
    C = _wigner_3j(l1, l2, l3)
    return C.to(dtype=dtype or torch.get_default_dtype(), device=device, copy=True)
