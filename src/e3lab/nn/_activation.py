"""Activation: scalar nonlinearities on the scalar blocks of an irreps-laid-out tensor."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from e3lab.math import normalize2mom
from e3lab.o3 import Irreps

# an activation is even (odd) when |f(x) -/+ f(-x)| stays below this on [0, 10]
_PARITY_TOL = 1e-5


def activation_parity(act: Callable[[torch.Tensor], torch.Tensor]) -> int:
    """``1`` for an even function, ``-1`` for an odd one, ``0`` for neither (tested on ``[0, 10]``)."""
    x = torch.linspace(0.0, 10.0, 256)
    with torch.no_grad():
        a, b = act(x), act(-x)
    if (a - b).abs().max() < _PARITY_TOL:
        return 1
    if (a + b).abs().max() < _PARITY_TOL:
        return -1
    return 0


class Activation(torch.nn.Module):
    """Apply one activation (normalised by :class:`~e3lab.math.normalize2mom`) per ``mul x ir`` block.

    Args:
        irreps_in: layout of the input.
        acts: one entry per term of ``irreps_in``: a function for a scalar term, or ``None`` to pass the
            term through unchanged. On an odd scalar ``0o`` the function must be even (output ``0e``)
            or odd (output ``0o``); any other function breaks parity and raises ``ValueError``.

    ``irreps_out`` is ``irreps_in`` with the parities the activations produce.
    Forward: ``x: [..., irreps_in.dim] -> [..., irreps_out.dim]`` (same dim).
    """

    def __init__(
        self,
        irreps_in: Irreps | str,
        acts: Sequence[Callable[[torch.Tensor], torch.Tensor] | None],
    ) -> None:
        super().__init__()
        irreps_in = Irreps(irreps_in)
        acts = list(acts)
        if len(irreps_in) != len(acts):
            raise ValueError(
                f"irreps_in {irreps_in} has {len(irreps_in)} terms but {len(acts)} activations were given: "
                "give one activation (or None) per term"
            )
        normalized = [normalize2mom(act) if act is not None else None for act in acts]
        irreps_out = []
        for (mul, ir), act in zip(irreps_in, normalized, strict=True):
            if act is None:
                irreps_out.append((mul, ir))
                continue
            if ir.l != 0:
                raise ValueError(
                    f"cannot apply an activation to the non-scalar term {mul}x{ir} of {irreps_in}: "
                    "pass None for it (or gate it with Gate)"
                )
            p_out = ir.p
            if ir.p == -1:
                p_out = activation_parity(act)
                if p_out == 0:
                    raise ValueError(
                        f"activation {acts[len(irreps_out)]!r} on the odd scalars {mul}x{ir} is neither even "
                        "nor odd, so the output would break parity: use an even or odd function "
                        "(e.g. tanh, abs)"
                    )
            irreps_out.append((mul, (0, p_out)))
        self.irreps_in = irreps_in
        self.irreps_out = Irreps(irreps_out)
        self.acts = torch.nn.ModuleList(normalized)
        self._blocks = [(s.start, s.stop - s.start) for s in irreps_in.slices()]

    def forward(self, features: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """``features: [..., irreps_in.dim, ...]`` (``dim`` indexes the irreps axis) -> same shape."""
        if features.shape[dim] != self.irreps_in.dim:
            raise ValueError(
                f"Activation expects size {self.irreps_in.dim} (irreps_in={self.irreps_in}) along dim {dim}, "
                f"got shape {list(features.shape)}"
            )
        parts = []
        for (start, length), act in zip(self._blocks, self.acts, strict=True):
            block = features.narrow(dim, start, length)
            parts.append(block if act is None else act(block))
        if not parts:
            return torch.zeros_like(features)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)

    def __repr__(self) -> str:
        marks = "".join(" " if a is None else "x" for a in self.acts)
        return f"{type(self).__name__} [{marks}] ({self.irreps_in} -> {self.irreps_out})"
