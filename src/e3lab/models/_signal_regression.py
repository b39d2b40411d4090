"""Per-node spherical-signal regression (the symmetry-breaking tutorial's shape tasks)."""

from __future__ import annotations

import math

import torch
from lightning.pytorch.utilities import rank_zero_info

from e3lab.graph import GraphBatch
from e3lab.models._base import EquivariantTask
from e3lab.models._ddp_mean import eval_mean
from e3lab.models._metrics import DisplacementError, PeakCount
from e3lab.symmetry import loss_floor


class SignalRegressionModule(EquivariantTask):
    """MSE between node output signals ``[N, irreps_out.dim]`` and ``batch.node_target``.

    Logs ``{train,val,test}/loss``; in validation and test also ``displacement_error`` (distance between
    the predicted peak nearest the target displacement and the target) and ``num_peaks`` (mean peaks per
    node). ``symmetry/loss_floor``: the lowest MSE any model respecting the input's symmetry can reach,
    computed once from the first graph of the first training batch (the datasets hold one geometry, up to
    rotation) and printed, next to ``symmetry/zero_output_loss`` (the MSE of an all-zero output).
    """

    def build_metrics(self) -> None:
        """The torchmetrics ``Metric``s of this task (modules, so Lightning moves and resets them)."""
        self.val_displacement = DisplacementError()
        self.test_displacement = DisplacementError()
        self.val_peaks = PeakCount()
        self.test_peaks = PeakCount()
        self.loss_floor: float | None = None
        self.zero_output_loss: float | None = None

    def _floor(self, batch: GraphBatch) -> float:
        """Symmetry floor of the first graph in ``batch`` (NaN when its symmetry group is continuous)."""
        first = slice(int(batch.ptr[0]), int(batch.ptr[1]))
        try:
            return loss_floor(
                batch.pos[first],
                batch.x[first],
                batch.node_target[first],
                self.net.irreps_in,
                self.net.irreps_out,
            )
        except ValueError as err:
            rank_zero_info(f"symmetry/loss_floor not computed: {err}")
            return math.nan

    def training_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        if self.loss_floor is None:
            self.loss_floor = self._floor(batch)
            self.zero_output_loss = float(batch.node_target.detach().pow(2).mean())
            rank_zero_info(
                f"symmetry/loss_floor = {self.loss_floor:.6g} (lowest MSE allowed by the input's symmetry; "
                f"an all-zero output has MSE {self.zero_output_loss:.6g})"
            )
        loss = torch.nn.functional.mse_loss(self(batch), batch.node_target)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch.num_graphs)
        self.log("symmetry/loss_floor", self.loss_floor, batch_size=batch.num_graphs)
        self.log("symmetry/zero_output_loss", self.zero_output_loss, batch_size=batch.num_graphs)
        return loss

    def _evaluate(self, batch: GraphBatch, stage: str) -> torch.Tensor:
        pred = self(batch)
        loss = torch.nn.functional.mse_loss(pred, batch.node_target)
        displacement = self.val_displacement if stage == "val" else self.test_displacement
        peaks = self.val_peaks if stage == "val" else self.test_peaks
        displacement(pred, batch.node_target)
        peaks(pred)
        n = batch.num_graphs
        self.log(f"{stage}/loss", loss, prog_bar=True, **eval_mean(stage, n))
        self.log(f"{stage}/displacement_error", displacement, batch_size=n)
        self.log(f"{stage}/num_peaks", peaks, batch_size=n)
        return loss

    def validation_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test")
