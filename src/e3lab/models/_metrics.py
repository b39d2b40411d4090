"""torchmetrics for spherical-signal outputs: displacement error from peaks, and the number of peaks."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from e3lab.signal import find_peaks


def _peaks(coeffs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded peak vectors ``[N, P, 3]`` and mask ``[N, P]`` of signals ``[N, dim]`` (float64 search)."""
    peaks, mask = find_peaks(coeffs.detach().to(torch.float64), padded=True)
    return peaks, mask


class DisplacementError(Metric):
    """Mean distance between the predicted displacement and the target's, over nodes.

    The predicted displacement of a node is the peak vector of its output signal; with several peaks the
    one nearest the target's is used, and a node with no peak counts as predicting zero displacement.
    The target displacement is the (single) peak of the target signal.

    ``update(pred [N, dim], target [N, dim])``; ``compute() -> scalar``.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        target_peaks, target_mask = _peaks(target)
        pred_peaks, pred_mask = _peaks(pred)
        # the target's displacement: its highest peak (zero when the target is zero)
        want = torch.where(target_mask[:, :1], target_peaks[:, 0], torch.zeros_like(target_peaks[:, 0]))
        if pred_peaks.shape[1] == 0:
            error = want.norm(dim=-1)
        else:
            dist = (pred_peaks - want[:, None, :]).norm(dim=-1)
            dist = torch.where(pred_mask, dist, torch.full_like(dist, torch.inf))
            error = torch.where(pred_mask.any(dim=1), dist.amin(dim=1), want.norm(dim=-1))
        self.total += error.sum().to(self.total)
        self.count += error.numel()

    def compute(self) -> torch.Tensor:
        return self.total / self.count.clamp(min=1)


class PeakCount(Metric):
    """Mean number of peaks per node of the predicted signals. ``update(pred [N, dim])``."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor) -> None:
        _, mask = _peaks(pred)
        self.total += mask.sum().to(self.total)
        self.count += mask.shape[0]

    def compute(self) -> torch.Tensor:
        return self.total.to(torch.float64) / self.count.clamp(min=1)
