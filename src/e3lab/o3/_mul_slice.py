"""``Irreps.slice_by_mul``: cut an irreps layout by copy index (counting every copy of every irrep)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from e3lab.o3._irreps import Irreps

__all__ = ["MulSlicer"]


class MulSlicer:
    """``irreps.slice_by_mul[a:b]``: the copies ``a .. b - 1`` of ``irreps``, in order, as an ``Irreps``.

    Copies are numbered across the terms (``0 .. irreps.num_irreps - 1``); a term cut by the slice keeps the
    copies inside it: ``Irreps("10x0e + 2e + 10x1e").slice_by_mul[5:15]`` is ``5x0e+1x2e+4x1e``.
    Only contiguous slices (step 1) are supported.
    """

    def __init__(self, irreps: Irreps) -> None:
        self.irreps = irreps

    def __getitem__(self, index: Any) -> Irreps:
        from e3lab.o3._irreps import Irreps

        if not isinstance(index, slice):
            raise IndexError(
                f"slice_by_mul takes a slice like [2:5], got {index!r}; index single terms with irreps[i]"
            )
        start, stop, step = index.indices(self.irreps.num_irreps)
        if step != 1:
            raise ValueError(f"slice_by_mul takes contiguous slices (step 1), got step {step}")
        kept = []
        first = 0  # number of the term's first copy
        for mul, ir in self.irreps:
            last = first + mul
            if start <= first and last <= stop:  # the whole term (an empty one too) lies inside
                kept.append((mul, ir))
            elif first < stop and start < last:  # cut by the slice
                kept.append((min(stop, last) - max(start, first), ir))
            first = last
        return Irreps(kept)
