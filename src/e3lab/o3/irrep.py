"""Irreps by attribute name, as e3nn's ``o3.irrep`` module: ``irrep.l1o == Irrep("1o")``.

Any name ``l<degree><parity>`` works, with parity ``e``, ``o`` or ``y`` (``y``: ``(-1)^l``), e.g.
``from e3lab.o3.irrep import l0e, l2y``.
"""

from __future__ import annotations

import re

from e3lab.o3._irrep import Irrep

_NAME = re.compile(r"l(\d+)([eoy])")


def __getattr__(name: str) -> Irrep:
    """``l<degree><parity>`` -> that ``Irrep``; other names raise ``AttributeError``."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}; irreps are named like l0e, l1o or l2y"
        )
    return Irrep(f"{match.group(1)}{match.group(2)}")
