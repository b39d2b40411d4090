"""Use a trained potential: an ASE calculator from a checkpoint, and molecular dynamics with it.

The top layer, next to the train/eval mains: it imports models, data and graph, and nothing below imports
it. At run time it needs neither Lightning's trainer nor Hydra (``md.py``, the Hydra main, lives in
``e3lab.md``).

- :class:`E3labCalculator`: ``ase.calculators.calculator.Calculator`` (energy, free_energy, energies,
  forces, stress), neighbour list kept with a skin, eager or exported (``torch.export`` / AOTInductor).
- :func:`run_md`: NVE (velocity Verlet) or NVT (Langevin), stopped at the first broken step.
"""

from e3lab.calculator._calculator import FORMS, E3labCalculator
from e3lab.calculator._dynamics import ENSEMBLES, MDResult, MDSettings, run_md
from e3lab.calculator._export import ExportedPotential, ExportError, export_potential
from e3lab.calculator._md_guard import StabilityGuard
from e3lab.calculator._md_plot import plot_md_energies
from e3lab.calculator._md_report import write_md_report
from e3lab.calculator._potential_checkpoint import load_potential
from e3lab.calculator._skin_neighbors import SkinNeighborList
from e3lab.calculator._structures import atoms_from_graph, read_structure

__all__ = [
    "ENSEMBLES",
    "FORMS",
    "E3labCalculator",
    "ExportError",
    "ExportedPotential",
    "MDResult",
    "MDSettings",
    "SkinNeighborList",
    "StabilityGuard",
    "atoms_from_graph",
    "export_potential",
    "load_potential",
    "plot_md_energies",
    "read_structure",
    "run_md",
    "write_md_report",
]
