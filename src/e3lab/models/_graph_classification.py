"""Per-graph classification from pooled node outputs (tetris)."""

from __future__ import annotations

import torch
from torchmetrics.classification import MulticlassAccuracy

from e3lab.graph import GraphBatch, scatter
from e3lab.models._base import EquivariantTask
from e3lab.models._ddp_mean import eval_mean
from e3lab.o3 import Irrep, Irreps


def logits_from_pooled(pooled: torch.Tensor, irreps_out: Irreps) -> torch.Tensor:
    """Class logits from per-graph invariants, parity-correct.

    ``irreps_out = "Kx0e"``: the K scalars are the K logits. ``irreps_out = "1x0o + Kx0e"`` (e3nn's tetris
    labels): K + 2 classes, where classes 0 and 1 are a mirror pair: ``logits = [p, -p, s_0, ..., s_{K-1}]``
    with ``p`` the odd scalar, so a mirror image (``p -> -p``) swaps exactly those two logits.

    Args:
        pooled: ``[num_graphs, irreps_out.dim]``.

    Returns:
        ``[num_graphs, num_classes]``.
    """
    scalars = [mul_ir for mul_ir in irreps_out]
    if all(ir == Irrep("0e") for _, ir in scalars):
        return pooled
    if len(scalars) == 2 and scalars[0] == (1, Irrep("0o")) and scalars[1].ir == Irrep("0e"):
        p, s = pooled[:, :1], pooled[:, 1:]
        return torch.cat([p, -p, s], dim=1)
    raise ValueError(
        f"irreps_out={irreps_out} cannot be turned into logits; use 'Kx0e' (K classes) or "
        "'1x0o + Kx0e' (K + 2 classes, the first two a mirror pair)"
    )


def num_classes(irreps_out: Irreps) -> int:
    """Number of classes :func:`logits_from_pooled` gives for ``irreps_out``."""
    return irreps_out.dim + (1 if Irrep("0o") in irreps_out else 0)


class GraphClassificationModule(EquivariantTask):
    """Cross entropy on logits built from the node outputs mean-pooled per graph.

    ``batch.graph_target: [num_graphs]`` class indices. Logs ``{train,val,test}/loss`` and ``/acc``.
    """

    def build_metrics(self) -> None:
        """The torchmetrics ``Metric``s of this task (modules, so Lightning moves and resets them)."""
        self.num_classes = num_classes(Irreps(self.net.irreps_out))
        # fail at construction on irreps_out that cannot give logits
        logits_from_pooled(torch.zeros(1, Irreps(self.net.irreps_out).dim), Irreps(self.net.irreps_out))
        self.train_acc = MulticlassAccuracy(self.num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(self.num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(self.num_classes, average="micro")

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        """Logits ``[num_graphs, num_classes]``."""
        nodes = super().forward(batch)
        pooled = scatter(nodes, batch.batch, dim=0, dim_size=batch.num_graphs, reduce="mean")
        return logits_from_pooled(pooled, Irreps(self.net.irreps_out))

    def _step(self, batch: GraphBatch, stage: str) -> torch.Tensor:
        logits = self(batch)
        loss = torch.nn.functional.cross_entropy(logits, batch.graph_target)
        accuracy = getattr(self, f"{stage}_acc")
        accuracy(logits, batch.graph_target)
        n = batch.num_graphs
        self.log(f"{stage}/loss", loss, prog_bar=True, **eval_mean(stage, n))
        self.log(f"{stage}/acc", accuracy, prog_bar=True, batch_size=n)
        return loss
