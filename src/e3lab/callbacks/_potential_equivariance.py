"""Log how far a live interatomic potential is from the symmetries of its energy, forces and stress."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from e3lab.callbacks._equivariance import EquivarianceWarning
from e3lab.callbacks._equivariance_check import random_transform
from e3lab.callbacks._potential_access import PotentialCheck, evaluation_model
from e3lab.callbacks._potential_symmetry import potential_symmetry_errors
from e3lab.graph import AtomsBatch

__all__ = ["PotentialEquivarianceCallback"]


class PotentialEquivarianceCallback(PotentialCheck):
    """Check a potential's predictions on a validation batch against rotations, inversion, permutations,
    translations and periodic images (:func:`potential_symmetry_errors`), and log each error.

    The module must offer ``predict(batch, forces, stress, create_graph)`` and ``cutoff`` (as
    ``e3lab.models.InteratomicPotential`` does); the batch is the first validation batch of the epoch, an
    ``AtomsBatch``. Neighbour lists of wrapped and lattice-shifted structures are rebuilt with
    ``e3lab.graph.neighbor_list`` at ``pl_module.cutoff``.

    Args:
        every_n_val_epochs: check after every n-th validation epoch (sanity checks excluded); 0 never.
        at_fit_end: check once more when fitting ends.
        float64: check a float64 copy of the module on float64 inputs (a precise number); otherwise the
            live module in its own dtype.
        threshold: warn (:class:`EquivarianceWarning`) when ``max_rel_error`` exceeds it.
        stress: compare stresses; ``None``: whenever every structure of the batch is periodic in 3D.
        seed: the transforms of the ``k``-th check are drawn from ``seed + k``; the global RNG is untouched.

    Logs ``equivariance/<name>_rel_error`` for ``energy``, ``forces``, ``stress`` (rotation and inversion),
    ``permutation``, ``translation``, ``periodic_wrap``, ``lattice_shift`` (the last two when a structure
    is periodic), and ``equivariance/max_rel_error``; appends each check to ``<run dir>/equivariance.jsonl``.
    ``last_errors`` keeps the latest numbers.
    """

    record_file = "equivariance.jsonl"

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        at_fit_end: bool = True,
        float64: bool = True,
        threshold: float = 1e-4,
        stress: bool | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_val_epochs, at_fit_end, float64, threshold)
        self.stress = stress
        self.seed = seed

    def check(self, pl_module: pl.LightningModule, batch: AtomsBatch) -> dict[str, float]:
        """One check of ``pl_module`` on ``batch``; returns the metrics (also kept in ``last_errors``)."""
        seed = self.seed + self._checks
        transform = random_transform(batch, seed)
        stress = bool(batch.pbc.all()) if self.stress is None else self.stress
        generator = torch.Generator().manual_seed(seed)
        with evaluation_model(pl_module, self.float64) as (model, dtype, device):
            errors = potential_symmetry_errors(
                model,
                batch.to(device=device, dtype=dtype),
                transform,
                float(pl_module.cutoff),
                stress,
                generator,
            )
        values = {name: float(error) for name, error in errors.items()}
        metrics = {f"equivariance/{name}_rel_error": value for name, value in values.items()}
        metrics["equivariance/max_rel_error"] = max(values.values())
        if metrics["equivariance/max_rel_error"] > self.threshold:
            worst = max(values, key=values.__getitem__)
            broken = (
                "periodic images" if worst in ("periodic_wrap", "lattice_shift") else "E(3) x permutations"
            )
            rank_zero_warn(
                f"potential symmetry error {values[worst]:.3g} ({worst}) exceeds threshold "
                f"{self.threshold:g} ({dtype}); the energy, forces or stress do not respect {broken}: check "
                "the model for symmetry-breaking operations and the neighbour list, or use float64=True for "
                "a precise number",
                category=EquivarianceWarning,
            )
        return metrics
