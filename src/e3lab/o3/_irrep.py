"""``Irrep``: one irreducible representation of O(3), the pair (degree ``l``, parity ``p``)."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from e3lab.o3._quaternion import axis_angle_to_angles, quaternion_to_angles
from e3lab.o3._rotation import matrix_to_angles
from e3lab.o3._wigner import wigner_D

if TYPE_CHECKING:
    from e3lab.o3._irreps import Irreps

__all__ = ["Irrep", "parse_irrep"]

_IRREP = re.compile(r"(\d+)([a-zA-Z]?)")
_PARITY_LETTERS = {"e": 1, "o": -1}


def _as_int(value: Any, what: str) -> int:
    """``value`` as a Python int (numpy and torch integers accepted), else a ``TypeError``."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {value!r} of type {type(value).__name__}") from None


def parse_irrep(text: str, context: str | None = None) -> tuple[int, int]:
    """Parse ``"<l><p>"`` (``p`` one of ``e``, ``o``, ``y``; ``y`` means ``p = (-1)^l``) into ``(l, p)``.

    ``context`` is the enclosing string quoted in error messages (defaults to ``text``).
    """
    context = text if context is None else context
    token = text.strip()
    match = _IRREP.fullmatch(token)
    if match is None:
        if token.startswith("-"):
            raise ValueError(f"negative degree l in {token!r} of {context!r} (l must be an integer >= 0)")
        raise ValueError(
            f"invalid irrep {token!r} in {context!r} (expected '<l><parity>' such as '0e', '1o' or '2y')"
        )
    l_text, parity = match.groups()
    l = int(l_text)
    if parity == "":
        raise ValueError(f"missing parity in {context!r} (write '{l}e', '{l}o' or '{l}y')")
    if parity == "y":
        return l, (-1) ** l
    if parity not in _PARITY_LETTERS:
        raise ValueError(f"invalid parity {parity!r} in {context!r} (expected 'e', 'o' or 'y')")
    return l, _PARITY_LETTERS[parity]


def _is_foreign_irrep(obj: Any) -> bool:
    """Whether ``obj`` is another library's irrep object (exposing integer ``l`` and ``p``)."""
    return not isinstance(obj, Irrep) and isinstance(getattr(obj, "l", None), int) and hasattr(obj, "p")


class Irrep(tuple):
    """Irreducible representation of O(3): degree ``l >= 0`` and parity ``p`` in ``{1, -1}``.

    ``Irrep(1, -1)``, ``Irrep("1o")``, ``Irrep("2y")`` (``p = (-1)^l``), ``Irrep((1, -1))`` and
    ``Irrep(other_irrep)`` all work, also for an e3nn ``Irrep`` (converted by value). It is the tuple
    ``(l, p)``: hashable, ordered by ``(l, p)`` (so ``0o < 0e < 1o < 1e``) and unpackable as ``l, p = ir``.
    Dimension ``2l + 1``.
    """

    def __new__(cls, l: int | str | tuple | Irrep, p: int | None = None) -> Irrep:
        if p is None:
            if isinstance(l, Irrep):
                return l
            if isinstance(l, str):
                l, p = parse_irrep(l)
            elif _is_foreign_irrep(l):  # e.g. an e3nn Irrep (whose len() raises): converted by value
                l, p = l.l, l.p
            elif isinstance(l, tuple) and len(l) == 2:
                l, p = l
            elif isinstance(l, int) and not isinstance(l, bool):
                if l < 0:
                    raise ValueError(f"Irrep degree l must be >= 0, got {l}")
                raise ValueError(
                    f"Irrep({l}) has no parity: write Irrep({l}, 1), Irrep({l}, -1) or Irrep('{l}e')"
                )
            else:
                raise TypeError(
                    f"cannot make an Irrep from {l!r} of type {type(l).__name__}; "
                    "give a string like '1o', a pair (l, p) or Irrep(l, p)"
                )
        l = _as_int(l, "Irrep degree l")
        if l < 0:
            raise ValueError(f"Irrep degree l must be >= 0, got {l}")
        if isinstance(p, bool) or p not in (-1, 1):
            raise ValueError(f"Irrep parity p must be 1 (even) or -1 (odd), got {p!r}")
        return super().__new__(cls, (l, int(p)))

    @property
    def l(self) -> int:  # noqa: E743
        """The degree ``l``."""
        return self[0]

    @property
    def p(self) -> int:
        """The parity: ``1`` (even, ``e``) or ``-1`` (odd, ``o``)."""
        return self[1]

    @property
    def dim(self) -> int:
        """The dimension ``2l + 1``."""
        return 2 * self.l + 1

    def is_scalar(self) -> bool:
        """True for ``0e``."""
        return self.l == 0 and self.p == 1

    def __repr__(self) -> str:
        return f"{self.l}{'e' if self.p == 1 else 'o'}"

    __str__ = __repr__

    def __getnewargs__(self) -> tuple[int, int]:
        return (self.l, self.p)

    @classmethod
    def iterator(cls, lmax: int | None = None) -> Iterator[Irrep]:
        """All irreps ``0e, 0o, 1o, 1e, 2e, 2o, ...`` (for each l the parity (-1)^l first), up to ``lmax``."""
        for l in itertools.count():
            if lmax is not None and l > lmax:
                return
            yield Irrep(l, (-1) ** l)
            yield Irrep(l, -((-1) ** l))

    def __mul__(self, other: Irrep | str | tuple) -> Iterator[Irrep]:  # type: ignore[override]
        """The irreps in ``self x other``: ``|l1 - l2| .. l1 + l2`` with parity ``p1 p2`` (a generator)."""
        if isinstance(other, int):
            return NotImplemented
        other = Irrep(other)
        p = self.p * other.p
        return (Irrep(l, p) for l in range(abs(self.l - other.l), self.l + other.l + 1))

    def __rmul__(self, mul: int) -> Irreps:  # type: ignore[override]
        """``3 * Irrep("1e")`` is ``Irreps("3x1e")``."""
        from e3lab.o3._irreps import Irreps

        return Irreps([(_as_int(mul, "multiplicity"), self)])

    def __add__(self, other: Any) -> Irreps:  # type: ignore[override]
        """``Irrep("0e") + "1o"`` is ``Irreps("0e + 1o")``."""
        from e3lab.o3._irreps import Irreps

        return Irreps(self) + Irreps(other)

    def D_from_angles(
        self, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor, k: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``p^k D^l(alpha, beta, gamma)``: angles and ``k`` (times inversion is applied) ``[...]``.

        Returns ``[..., 2l+1, 2l+1]``.
        """
        if k is None:
            k = torch.zeros_like(alpha)
        alpha, beta, gamma, k = torch.broadcast_tensors(alpha, beta, gamma, k)
        return wigner_D(self.l, alpha, beta, gamma) * (self.p**k)[..., None, None]

    def D_from_quaternion(self, q: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
        """Representation of the unit quaternions ``q: [..., 4]`` -> ``[..., 2l+1, 2l+1]``."""
        return self.D_from_angles(*quaternion_to_angles(q), k)

    def D_from_matrix(self, R: torch.Tensor) -> torch.Tensor:
        """Representation of orthogonal matrices ``R: [..., 3, 3]`` (det +1 or -1) -> ``[..., 2l+1, 2l+1]``.

        With ``d = det R``: ``D(d R)`` times ``p`` when ``d = -1``.
        """
        d = torch.det(R).sign()
        k = (1 - d) / 2
        return self.D_from_angles(*matrix_to_angles(d[..., None, None] * R), k)

    def D_from_axis_angle(self, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        """Representation of the rotation of ``axis: [..., 3]`` by ``angle: [...]``."""
        return self.D_from_angles(*axis_angle_to_angles(axis, angle))
