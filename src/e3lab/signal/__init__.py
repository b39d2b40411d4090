"""Spherical signals: vectors as signals on the sphere, grid evaluation, peak finding and plots.

A signal is a coefficient tensor ``[..., (lmax+1)^2]`` laid out by
``Irreps.spherical_harmonics(lmax, p=-1)``; its value at a unit vector ``x`` is
``sum_l coeffs_l . Y^l(x)`` (e3nn's spherical harmonics, ``integral`` normalization by default).
"""

from e3lab.signal._from_vectors import from_vectors
from e3lab.signal._grid import SphericalGrid, evaluate, evaluate_at, s2_grid
from e3lab.signal._peaks import find_peaks
from e3lab.signal._plot import plot_signal_3d, plot_signal_plotly, plot_task

__all__ = [
    "SphericalGrid",
    "evaluate",
    "evaluate_at",
    "find_peaks",
    "from_vectors",
    "plot_signal_3d",
    "plot_signal_plotly",
    "plot_task",
    "s2_grid",
]
