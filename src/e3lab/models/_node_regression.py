"""Per-node regression (random clouds against a teacher network)."""

from __future__ import annotations

import torch
from torchmetrics import R2Score

from e3lab.graph import GraphBatch
from e3lab.models._base import EquivariantTask
from e3lab.models._ddp_mean import eval_mean


class NodeRegressionModule(EquivariantTask):
    """MSE between node outputs ``[N, irreps_out.dim]`` and ``batch.node_target``; R^2 over all components.

    Logs ``{train,val,test}/loss`` and ``/r2``.
    """

    def build_metrics(self) -> None:
        """The torchmetrics ``Metric``s of this task (modules, so Lightning moves and resets them)."""
        self.train_r2 = R2Score()
        self.val_r2 = R2Score()
        self.test_r2 = R2Score()

    def _step(self, batch: GraphBatch, stage: str) -> torch.Tensor:
        pred = self(batch)
        loss = torch.nn.functional.mse_loss(pred, batch.node_target)
        r2 = getattr(self, f"{stage}_r2")
        r2(pred.detach().flatten(), batch.node_target.flatten())
        n = batch.num_graphs
        self.log(f"{stage}/loss", loss, prog_bar=True, **eval_mean(stage, n))
        self.log(f"{stage}/r2", r2, batch_size=n)
        return loss
