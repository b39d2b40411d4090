"""``Irreps``: a direct sum of O(3) irreps with multiplicities, laid out ``mul_ir`` (u-major)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch

from e3lab.o3._irrep import Irrep, _as_int, _is_foreign_irrep, parse_irrep
from e3lab.o3._mul_slice import MulSlicer
from e3lab.o3._quaternion import axis_angle_to_angles, quaternion_to_angles
from e3lab.o3._rotation import matrix_to_angles

__all__ = ["Irreps"]


class _MulIr(NamedTuple):
    """``mul`` copies of the irrep ``ir``; ``dim = mul * ir.dim``."""

    mul: int
    ir: Irrep

    @property
    def slice_by_mul(self) -> MulSlicer:
        """Slice by copy: ``Irreps("10x0e + 10x1e").slice_by_mul[5:15] == Irreps("5x0e + 5x1e")``."""
        return MulSlicer(self)

    @property
    def dim(self) -> int:
        return self.mul * self.ir.dim

    def __repr__(self) -> str:
        return f"{self.mul}x{self.ir}"

    __str__ = __repr__


_Sorted = collections.namedtuple("sort", ["irreps", "p", "inv"])


def _mul_ir(mul: Any, ir: Any) -> _MulIr:
    mul = _as_int(mul, "multiplicity")
    if mul < 0:
        raise ValueError(f"multiplicity must be >= 0, got {mul} for {Irrep(ir)}")
    return _MulIr(mul, Irrep(ir))


def _parse(text: str) -> list[_MulIr]:
    """Parse ``"16x0e + 8x1o + 2e"`` (an empty or blank string is the empty Irreps)."""
    if text.strip() == "":
        return []
    out = []
    for term in text.split("+"):
        term = term.strip()
        if term == "":
            raise ValueError(f"empty term in {text!r} (terms are '<mul>x<irrep>' joined by '+')")
        mul_text, sep, ir_text = term.partition("x")
        if not sep:
            out.append(_MulIr(1, Irrep(*parse_irrep(term, text))))
            continue
        try:
            mul = int(mul_text.strip())
        except ValueError:
            raise ValueError(
                f"invalid multiplicity {mul_text.strip()!r} in {text!r} "
                "(expected '<mul>x<irrep>' like '16x1o')"
            ) from None
        if mul < 0:
            raise ValueError(f"negative multiplicity {mul} in {text!r} (multiplicities must be >= 0)")
        out.append(_MulIr(mul, Irrep(*parse_irrep(ir_text, text))))
    return out


def _term(item: Any) -> _MulIr:
    """One element of a list given to ``Irreps``: an Irrep/string (mul 1) or a pair ``(mul, ir)``."""
    if isinstance(item, Irrep) or _is_foreign_irrep(item):
        return _MulIr(1, Irrep(item))
    if isinstance(item, str):
        terms = _parse(item)
        if len(terms) != 1:
            raise ValueError(f"expected a single term like '2x1o', got {item!r}")
        return terms[0]
    if isinstance(item, tuple | list) and len(item) == 2:
        return _mul_ir(*item)
    raise TypeError(f"cannot read {item!r} as an irreps term; use (mul, ir) like (16, '1o') or (16, (1, -1))")


class Irreps(tuple):
    """Direct sum of irreps with multiplicities: a tuple of ``(mul, ir)`` named tuples.

    Built from a string ``"16x1e + 32x2o"``, an ``Irrep``, a list of ``(mul, ir)`` / ``(mul, (l, p))``
    pairs or of irreps, another ``Irreps``, or nothing (empty). A tensor laid out by it has shape
    ``[..., irreps.dim]``, each ``mul x ir`` block being u-major (index ``u * ir.dim + m``).
    An e3nn ``Irreps`` is converted by value.
    """

    # the class marker by which e3nn's test helpers recognise an Irreps (an attribute, not the type)
    _e3nn_irreps_marker = True

    def __new__(cls, irreps: Irreps | Irrep | str | Iterable | None = None) -> Irreps:
        if isinstance(irreps, Irreps):
            return super().__new__(cls, irreps)
        if irreps is None:
            terms: list[_MulIr] = []
        elif isinstance(irreps, Irrep) or _is_foreign_irrep(irreps):
            terms = [_MulIr(1, Irrep(irreps))]
        elif isinstance(irreps, str):
            terms = _parse(irreps)
        elif isinstance(irreps, Iterable) and not isinstance(irreps, bytes | dict):
            terms = [_term(item) for item in irreps]
        else:
            raise TypeError(
                f"cannot make Irreps from {irreps!r} of type {type(irreps).__name__}; "
                "give a string like '16x0e + 8x1o', an Irrep, or a list of (mul, ir) pairs"
            )
        return super().__new__(cls, terms)

    @staticmethod
    def spherical_harmonics(lmax: int, p: int = -1) -> Irreps:
        """``1x0e + 1x1o + 1x2e + ...`` up to ``lmax``: irrep ``l`` has parity ``p^l``."""
        return Irreps([(1, (l, p**l)) for l in range(lmax + 1)])

    def __repr__(self) -> str:
        return "+".join(repr(mul_ir) for mul_ir in self)

    __str__ = __repr__

    def __getitem__(self, i: int | slice) -> Any:
        item = super().__getitem__(i)
        return Irreps(item) if isinstance(i, slice) else item

    def __contains__(self, ir: object) -> bool:
        ir = Irrep(ir)  # type: ignore[arg-type]
        return any(ir == other for _, other in self)

    def count(self, ir: Irrep | str | tuple) -> int:  # type: ignore[override]
        """Total multiplicity of ``ir``."""
        ir = Irrep(ir)
        return sum(mul for mul, other in self if other == ir)

    def __add__(self, other: Any) -> Irreps:  # type: ignore[override]
        return Irreps(tuple(self) + tuple(Irreps(other)))

    def __mul__(self, n: int) -> Irreps:  # type: ignore[override]
        """``Irreps("0e + 1o") * 2`` repeats the sequence: ``0e + 1o + 0e + 1o``."""
        if isinstance(n, Irreps):
            raise TypeError("Irreps * Irreps is not defined: use o3.FullTensorProduct for products")
        return Irreps(tuple(self) * _as_int(n, "repetition count"))

    __rmul__ = __mul__

    @property
    def slice_by_mul(self) -> MulSlicer:
        """Slice by copy: ``Irreps("10x0e + 10x1e").slice_by_mul[5:15] == Irreps("5x0e + 5x1e")``."""
        return MulSlicer(self)

    @property
    def dim(self) -> int:
        """Total dimension ``sum(mul * (2l + 1))``."""
        return sum(mul_ir.dim for mul_ir in self)

    @property
    def num_irreps(self) -> int:
        """Total multiplicity ``sum(mul)``."""
        return sum(mul for mul, _ in self)

    @property
    def ls(self) -> list[int]:
        """The degree of every copy, in order: ``Irreps("2x0e + 1o").ls == [0, 0, 1]``."""
        return [ir.l for mul, ir in self for _ in range(mul)]

    @property
    def lmax(self) -> int:
        """Largest degree; ``ValueError`` for the empty Irreps."""
        if len(self) == 0:
            raise ValueError("lmax of an empty Irreps is undefined; check the irreps are not empty")
        return max(ir.l for _, ir in self)

    def is_scalar(self) -> bool:
        """True when every irrep is ``0e``."""
        return all(ir.is_scalar() for _, ir in self)

    def slices(self) -> list[slice]:
        """The slice of each ``mul x ir`` block in a ``[..., dim]`` tensor."""
        out, start = [], 0
        for mul_ir in self:
            out.append(slice(start, start + mul_ir.dim))
            start += mul_ir.dim
        return out

    def simplify(self) -> Irreps:
        """Merge neighbouring equal irreps and drop zero multiplicities (does not sort)."""
        out: list[tuple[int, Irrep]] = []
        for mul, ir in self:
            if out and out[-1][1] == ir:
                out[-1] = (out[-1][0] + mul, ir)
            elif mul > 0:
                out.append((mul, ir))
        return Irreps(out)

    def remove_zero_multiplicities(self) -> Irreps:
        """Drop the ``0x`` terms."""
        return Irreps([mul_ir for mul_ir in self if mul_ir.mul > 0])

    def sort(self) -> _Sorted:
        """Stable sort by irrep ``(l, p)``: namedtuple ``(irreps, p, inv)``.

        ``inv[i]`` is the old index of the new term ``i``; ``p`` is its inverse permutation
        (``p[old] = new``).
        """
        inv = tuple(sorted(range(len(self)), key=lambda i: (self[i].ir, i, self[i].mul)))
        p = [0] * len(inv)
        for new, old in enumerate(inv):
            p[old] = new
        return _Sorted(Irreps([self[i] for i in inv]), tuple(p), inv)

    def regroup(self) -> Irreps:
        """``sort().irreps.simplify()``."""
        return self.sort().irreps.simplify()

    def filter(
        self,
        keep: Irreps | Iterable | str | Irrep | Callable[[_MulIr], bool] | None = None,
        *,
        drop: Irreps | Iterable | str | Irrep | Callable[[_MulIr], bool] | None = None,
        lmax: int | None = None,
    ) -> Irreps:
        """Keep the terms whose irrep is in ``keep``, or drop those in ``drop``, or keep ``l <= lmax``.

        ``keep``/``drop``: irreps (any form) or a predicate on ``(mul, ir)``. Give at most one of the three.
        """
        given = [name for name, v in (("keep", keep), ("drop", drop), ("lmax", lmax)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"filter takes one of keep, drop, lmax; got {' and '.join(given)}")
        if lmax is not None:
            return Irreps([mul_ir for mul_ir in self if mul_ir.ir.l <= lmax])
        selector, want = (keep, True) if keep is not None else (drop, False)
        if selector is None:
            return self
        if callable(selector):
            return Irreps([mul_ir for mul_ir in self if bool(selector(mul_ir)) == want])
        if isinstance(selector, _MulIr):
            selector = [selector.ir]
        irs = {ir for _, ir in Irreps(selector)}
        return Irreps([mul_ir for mul_ir in self if (mul_ir.ir in irs) == want])

    def randn(
        self,
        *size: int,
        normalization: str = "component",
        requires_grad: bool = False,
        dtype: torch.dtype | None = None,
        device=None,
    ) -> torch.Tensor:
        """Random tensor of shape ``size`` with its single ``-1`` replaced by ``dim``.

        ``component``: i.i.d. N(0, 1) entries; ``norm``: each irrep copy is a random unit vector.
        """
        if list(size).count(-1) != 1:
            raise ValueError(f"randn size must contain exactly one -1 (the irreps axis), got {size}")
        if normalization not in ("component", "norm"):
            raise ValueError(f"normalization must be 'component' or 'norm', got {normalization!r}")
        axis = size.index(-1)
        left, right = size[:axis], size[axis + 1 :]
        if normalization == "component":
            x = torch.randn(*left, self.dim, *right, dtype=dtype, device=device)
        else:
            blocks = []
            for mul, ir in self:
                r = torch.randn(*left, mul, ir.dim, *right, dtype=dtype, device=device)
                r = r / r.norm(dim=axis + 1, keepdim=True)
                blocks.append(r.reshape(*left, mul * ir.dim, *right))
            x = (
                torch.cat(blocks, dim=axis)
                if blocks
                else torch.zeros(*left, 0, *right, dtype=dtype, device=device)
            )
        return x.requires_grad_(requires_grad)

    def D_from_angles(
        self, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor, k: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Block-diagonal representation ``[..., dim, dim]``; angles and ``k`` ``[...]`` (see Irrep)."""
        if k is None:
            k = torch.zeros_like(alpha)
        alpha, beta, gamma, k = torch.broadcast_tensors(alpha, beta, gamma, k)
        out = alpha.new_zeros(*alpha.shape, self.dim, self.dim)
        cache: dict[Irrep, torch.Tensor] = {}
        start = 0
        for mul, ir in self:
            if ir not in cache:
                cache[ir] = ir.D_from_angles(alpha, beta, gamma, k)
            for _ in range(mul):
                out[..., start : start + ir.dim, start : start + ir.dim] = cache[ir]
                start += ir.dim
        return out

    def D_from_quaternion(self, q: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
        """Representation ``[..., dim, dim]`` of unit quaternions ``q: [..., 4]``."""
        return self.D_from_angles(*quaternion_to_angles(q), k)

    def D_from_matrix(self, R: torch.Tensor) -> torch.Tensor:
        """Representation ``[..., dim, dim]`` of orthogonal matrices ``R: [..., 3, 3]`` (det +1 or -1)."""
        d = torch.det(R).sign()
        k = (1 - d) / 2
        return self.D_from_angles(*matrix_to_angles(d[..., None, None] * R), k)

    def D_from_axis_angle(self, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        """Representation ``[..., dim, dim]`` of the rotation of ``axis: [..., 3]`` by ``angle: [...]``."""
        return self.D_from_angles(*axis_angle_to_angles(axis, angle))
