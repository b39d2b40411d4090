"""Real spherical harmonics in e3nn's basis and order, by the Clebsch-Gordan recurrence.

``Y^0 = 1``, ``Y^1 = sqrt(3) (x, y, z)`` and ``Y^{l+1} = c_l C(l+1, l, 1) . (Y^l x)`` with ``c_l > 0`` the
constant that keeps ``|Y^{l+1}|^2 = 2l + 3`` on the unit sphere (component normalization). Each step is one
outer product and one small matmul over all points at once, so the cost is a few kernels per degree; the
output normalization is folded into the recurrence matrices. Without ``normalize`` each ``Y^l`` is a
homogeneous polynomial of degree ``l``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from e3lab.o3._irreps import Irreps
from e3lab.o3._wigner_3j import wigner_3j

__all__ = ["SphericalHarmonics", "spherical_harmonics"]

NORMALIZATIONS = ("integral", "component", "norm")


def _scale(l: int, normalization: str) -> float:
    """Factor from component normalization to ``normalization`` for degree ``l``."""
    if normalization == "integral":
        return 1 / math.sqrt(4 * math.pi)
    if normalization == "norm":
        return 1 / math.sqrt(2 * l + 1)
    return 1.0


@functools.cache
def _recurrence_matrices(lmax: int, normalization: str) -> tuple[torch.Tensor, ...]:
    """Float64 ``W_l: [3 (2l+1), 2l+3]`` for ``l = 1..lmax-1``: ``Y^{l+1} = (Y^l outer x) @ W_l``.

    ``Y^l`` here already carries the output normalization, so ``W_l`` includes ``s_{l+1} / s_l``.
    """
    out = []
    e_y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    y_l = math.sqrt(3) * e_y  # component-normalized Y^1 at the north pole e_y
    for l in range(1, lmax):
        C = wigner_3j(l + 1, l, 1, dtype=torch.float64)  # [out, in, x]
        W = C.permute(1, 2, 0).reshape(3 * (2 * l + 1), 2 * l + 3)
        y_next = (y_l[:, None] * e_y[None, :]).reshape(-1) @ W
        W = W * (math.sqrt(2 * l + 3) / y_next.norm())
        out.append(W * (_scale(l + 1, normalization) / _scale(l, normalization)))
        y_l = y_next * (math.sqrt(2 * l + 3) / y_next.norm())
    return tuple(out)


def _parse_ls(irreps_out: int | list[int] | str | Irreps, irreps_in: object) -> tuple[list[int], Irreps]:
    """Degrees requested (in order, with repeats) and the input irreps (``1x1o`` or ``1x1e``)."""
    if isinstance(irreps_out, str) or hasattr(type(irreps_out), "_e3nn_irreps_marker"):  # e3nn's Irreps too
        irreps_out = Irreps(irreps_out)
    if irreps_in is None:
        odd_even = isinstance(irreps_out, Irreps) and any(l % 2 == 1 and p == 1 for _, (l, p) in irreps_out)
        irreps_in = "1e" if odd_even else "1o"
    irreps_in = Irreps(irreps_in)
    if irreps_in not in (Irreps("1x1o"), Irreps("1x1e")):
        raise ValueError(f"irreps_in must be a vector '1x1o' or a pseudovector '1x1e', got '{irreps_in}'")
    p_in = irreps_in[0].ir.p
    if isinstance(irreps_out, Irreps):
        ls = []
        for mul, (l, p) in irreps_out:
            if p != p_in**l:
                raise ValueError(
                    f"spherical harmonics of degree {l} from a '{irreps_in}' input have parity {p_in**l}, "
                    f"but irreps_out '{irreps_out}' asks for {l}{'e' if p == 1 else 'o'}; "
                    f"use '{l}{'e' if p_in**l == 1 else 'o'}'"
                )
            ls.extend([l] * mul)
    elif isinstance(irreps_out, int) and not isinstance(irreps_out, bool):
        ls = [irreps_out]
    elif isinstance(irreps_out, list | tuple) and all(isinstance(l, int) for l in irreps_out):
        ls = list(irreps_out)
    else:
        raise TypeError(
            f"l must be an int, a list of ints, or irreps like '0e + 1o + 2e'; got {irreps_out!r}"
        )
    if not ls or min(ls) < 0:
        raise ValueError(f"spherical harmonics need at least one degree l >= 0, got {ls}")
    return ls, irreps_in


def _safe_normalize(x: torch.Tensor) -> torch.Tensor:
    """Columns ``x: [3, N]`` over their norms; the zero vector goes to zero with finite derivatives."""
    r2 = x.pow(2).sum(dim=0, keepdim=True)
    nonzero = r2 > 0
    inv = torch.where(
        nonzero, torch.rsqrt(torch.where(nonzero, r2, torch.ones_like(r2))), torch.zeros_like(r2)
    )
    return x * inv


class SphericalHarmonics(torch.nn.Module):
    """Spherical harmonics ``x: [..., 3] -> [..., irreps_out.dim]`` in e3nn's basis.

    Args:
        irreps_out: the degrees, as an int, a list of ints (repeats allowed), or irreps whose parities are
            ``p_in^l`` (``"0e + 1o + 2e"`` for a vector input).
        normalize: project ``x`` on the unit sphere first (the zero vector gives ``Y^0`` and zeros).
        normalization: ``"integral"`` (``int Y_m^2 = 1`` over the sphere), ``"component"``
            (``|Y^l|^2 = 2l+1``) or ``"norm"`` (``|Y^l| = 1``) on the unit sphere.
        irreps_in: ``"1x1o"`` (vector, default) or ``"1x1e"`` (pseudovector).
    """

    def __init__(
        self,
        irreps_out: int | list[int] | str | Irreps,
        normalize: bool,
        normalization: str = "integral",
        irreps_in: object = None,
    ) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        ls, self.irreps_in = _parse_ls(irreps_out, irreps_in)
        p_in = self.irreps_in[0].ir.p
        self.irreps_out = Irreps([(1, (l, p_in**l)) for l in ls]).simplify()
        self.normalize = normalize
        self.normalization = normalization
        self._ls = ls
        self._lmax = max(ls)
        dtype = torch.get_default_dtype()
        matrices = _recurrence_matrices(self._lmax, normalization)
        # float64 originals: module.to(dtype/device) re-derives the buffers from these (see _apply)
        self._exact = {f"_w{l}": W for l, W in enumerate(matrices, start=1)}
        for name, W in self._exact.items():
            self.register_buffer(name, W.to(dtype), persistent=False)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> SphericalHarmonics:
        super()._apply(fn, recurse)
        for name, exact in self._exact.items():
            current = self._buffers[name]
            self._buffers[name] = exact.to(dtype=current.dtype, device=current.device)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [..., 3]`` -> ``[..., irreps_out.dim]``."""
        matrices = [getattr(self, f"_w{l}") for l in range(1, self._lmax)]
        return _evaluate(x, self._ls, self.normalize, self.normalization, matrices)

    def extra_repr(self) -> str:
        return f"{self.irreps_out}, normalize={self.normalize}, normalization={self.normalization!r}"


def _evaluate(
    x: torch.Tensor, ls: list[int], normalize: bool, normalization: str, matrices: list[torch.Tensor]
) -> torch.Tensor:
    """The harmonics of degrees ``ls`` of ``x: [..., 3]``, given the recurrence matrices up to ``max(ls)``.

    Works in the transposed layout ``[3, N]`` / ``[2l+1, N]`` so that every elementwise op runs along the
    contiguous point axis and every matmul has the long axis as its free dimension.
    """
    if x.dim() == 0 or x.shape[-1] != 3:
        raise ValueError(f"x must have shape [..., 3] (vectors), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert it with x.float()")
    batch = x.shape[:-1]
    xt = x.reshape(-1, 3).t().contiguous()
    if normalize:
        xt = _safe_normalize(xt)
    ys = [torch.full_like(xt[:1], _scale(0, normalization))]
    if max(ls) >= 1:
        ys.append(xt * (math.sqrt(3) * _scale(1, normalization)))
    for l, W in enumerate(matrices, start=1):
        outer = (ys[l][:, None, :] * xt[None, :, :]).reshape(3 * (2 * l + 1), -1)
        ys.append(W.to(dtype=x.dtype).t() @ outer)
    out = torch.cat([ys[l] for l in ls], dim=0)
    return out.t().contiguous().reshape(*batch, out.shape[0])


@functools.lru_cache(maxsize=128)
def _functional_setup(
    l: int | tuple[int, ...] | str | Irreps, normalization: str, dtype: torch.dtype, device: torch.device
) -> tuple[list[int], list[torch.Tensor]]:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    ls, _ = _parse_ls(l, None)
    matrices = [W.to(dtype=dtype, device=device) for W in _recurrence_matrices(max(ls), normalization)]
    return ls, matrices


def spherical_harmonics(
    l: int | list[int] | str | Irreps, x: torch.Tensor, normalize: bool, normalization: str = "integral"
) -> torch.Tensor:
    """Spherical harmonics of ``x: [..., 3]`` -> ``[..., sum(2l+1)]``; see :class:`SphericalHarmonics`.

    ``l`` is an int, a list of ints, or irreps such as ``"0e + 1o + 2e"`` (parities must be ``(-1)^l``,
    or all even for a pseudovector).
    """
    key = tuple(l) if isinstance(l, list) else l
    ls, matrices = _functional_setup(key, normalization, x.dtype, x.device)
    return _evaluate(x, ls, normalize, normalization, matrices)
