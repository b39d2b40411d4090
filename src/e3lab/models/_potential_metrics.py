"""Errors of a potential in the units people quote: meV/atom, meV/A (force components), meV/A^3."""

from __future__ import annotations

import torch
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, Metric

from e3lab.graph import AtomsBatch

# metric name -> (target, kind); names are logged as "<stage>/<name>"
METRICS = {
    "energy_mae_mev_per_atom": ("energy", "mae"),
    "energy_rmse_mev_per_atom": ("energy", "rmse"),
    "forces_mae_mev_per_a": ("forces", "mae"),
    "forces_rmse_mev_per_a": ("forces", "rmse"),
    "stress_mae_mev_per_a3": ("stress", "mae"),
    "stress_rmse_mev_per_a3": ("stress", "rmse"),
}


def _metric(kind: str) -> Metric:
    return MeanAbsoluteError() if kind == "mae" else MeanSquaredError(squared=False)


class PotentialMetrics(torch.nn.Module):
    """Per-atom energy, force-component and stress-component errors of one stage, accumulated over an epoch.

    ``update(pred, batch)`` takes :meth:`InteratomicPotential.predict`'s dict and the batch's targets (eV,
    eV/A, eV/A^3) and accumulates errors in milli-units; a target the batch lacks (or a prediction not made)
    is skipped, and so are structures whose stress target is NaN. ``updated()`` lists the metrics that saw
    data, for logging.
    """

    def __init__(self) -> None:
        super().__init__()
        self.metrics = torch.nn.ModuleDict({name: _metric(kind) for name, (_, kind) in METRICS.items()})

    def update(self, pred: dict[str, torch.Tensor], batch: AtomsBatch) -> None:
        pairs = {}
        if batch.energy is not None and "energy" in pred:
            num_atoms = batch.num_atoms.to(pred["energy"])
            pairs["energy"] = (pred["energy"] / num_atoms, batch.energy / num_atoms)
        if batch.forces is not None and "forces" in pred:
            pairs["forces"] = (pred["forces"], batch.forces)
        if batch.stress is not None and "stress" in pred:
            rows = torch.isfinite(batch.stress).all(dim=(1, 2))  # NaN: a structure without a stress
            if bool(rows.any()):
                pairs["stress"] = (pred["stress"][rows], batch.stress[rows])
        for name, (key, _) in METRICS.items():
            if key in pairs:
                predicted, target = pairs[key]
                self.metrics[name].update(1000.0 * predicted.detach().flatten(), 1000.0 * target.flatten())

    def updated(self) -> dict[str, Metric]:
        """The metrics updated since the last reset (Lightning computes and resets them at epoch end)."""
        return {name: metric for name, metric in self.metrics.items() if metric.update_called}


class EvaluationLoss(torch.nn.Module):
    """The weighted loss of a whole validation or test set, the same however it is cut into batches or shared
    out to DDP ranks.

    A batch's loss term is a mean over its entries (structures for the per-atom energy, force components,
    stress components); averaging batch values would weight an entry by its batch's size. Here each term is
    a torchmetrics mean weighted by its entry count (reduced over the ranks by torchmetrics), and the loss is
    ``sum_k weight_k * mean_k`` over the terms that saw data.

    Args:
        weights: loss weight per term (``energy``, ``forces``, ``stress``).
    """

    def __init__(self, weights: dict[str, float]) -> None:
        super().__init__()
        self.weights = dict(weights)
        self.means = torch.nn.ModuleDict({key: MeanMetric() for key in self.weights})

    def update(self, terms: dict[str, tuple[torch.Tensor, torch.Tensor | int]]) -> None:
        """Add one batch: ``terms[key] = (mean over the batch's entries, number of entries > 0)``."""
        for key, (value, count) in terms.items():
            self.means[key].update(value.detach(), weight=count)

    def compute(self) -> dict[str, torch.Tensor]:
        """``{"loss": total, "loss_<term>": mean, ...}`` of the data seen since the last :meth:`reset`."""
        seen = {key: metric.compute() for key, metric in self.means.items() if metric.update_called}
        out = {f"loss_{key}": value for key, value in seen.items()}
        if seen:
            out["loss"] = sum(self.weights[key] * value for key, value in seen.items())
        return out

    def reset(self) -> None:
        for metric in self.means.values():
            metric.reset()
