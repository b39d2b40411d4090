"""NequIP's radial embedding: a Bessel basis times a polynomial envelope, ``[E] -> [E, number]``."""

from __future__ import annotations

import math

import torch

from e3lab.math import poly_cutoff


class BesselEmbedding(torch.nn.Module):
    """``(2 / r_c) sin(w_n r / r_c) / r * u(r)``, ``n = 1..number``, ``u`` :func:`~e3lab.math.poly_cutoff`.

    The frequencies ``w_n`` start at ``n pi`` (the roots of the spherical Bessel function ``j0``) and are
    trained with ``trainable=True``, as in NequIP. Distances must be > 0 (no self edges): the basis is
    singular at ``r = 0``.

    Args:
        max_radius: the cutoff ``r_c``.
        number: number of basis functions.
        p: order of the polynomial envelope.
        trainable: learn the frequencies.

    Forward: ``length: [E] -> [E, number]``.
    """

    def __init__(self, max_radius: float, number: int = 8, p: float = 6.0, trainable: bool = True) -> None:
        super().__init__()
        if not max_radius > 0:
            raise ValueError(f"max_radius={max_radius!r} must be > 0 (the cutoff radius)")
        if not isinstance(number, int) or number < 1:
            raise ValueError(f"number={number!r} must be an int >= 1 (basis functions)")
        poly_cutoff(torch.zeros(1), max_radius, p)  # validates p with its message
        self.max_radius = float(max_radius)
        self.number = number
        self.p = float(p)
        frequencies = torch.arange(1, number + 1, dtype=torch.get_default_dtype()) * math.pi
        if trainable:
            self.frequencies = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    def forward(self, length: torch.Tensor) -> torch.Tensor:
        r = length[:, None]
        basis = (2.0 / self.max_radius) * torch.sin(self.frequencies * (r / self.max_radius)) / r
        return basis * poly_cutoff(r, self.max_radius, self.p)

    def extra_repr(self) -> str:
        trainable = isinstance(self.frequencies, torch.nn.Parameter)
        return f"number={self.number}, max_radius={self.max_radius:g}, p={self.p:g}, trainable={trainable}"
