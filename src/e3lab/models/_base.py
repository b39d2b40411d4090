"""Shared LightningModule plumbing: the wrapped network, optimizers from config, irreps checks, compile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from e3lab.graph import GraphBatch
from e3lab.nn import EquivariantConvNet
from e3lab.o3 import Irreps

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class EquivariantTask(L.LightningModule):
    """Base class: ``self.net`` is an ``EquivariantConvNet`` built from the plain dict ``net``.

    Args:
        net: keyword arguments of ``EquivariantConvNet`` (``irreps_in``, ``irreps_out``, ...).
        optimizer: factory ``params -> Optimizer`` (Hydra ``_partial_: true``); default Adam(lr=1e-3).
        scheduler: factory ``optimizer -> LRScheduler`` or ``None``; stepped every epoch.
        compile: compile ``self.net`` in place with ``torch.compile`` at fit start (never this module).

    Checkpoints record the class and the network's arguments, so ``load_from_checkpoint(path)`` needs no
    other argument (the loaded model has the default optimizer unless one is passed).
    """

    def __init__(
        self,
        net: dict[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(net, dict) or "irreps_in" not in net or "irreps_out" not in net:
            raise TypeError(
                "net must be a dict of EquivariantConvNet arguments with at least irreps_in and irreps_out, "
                f"got {net!r}"
            )
        # the optimizer/scheduler factories are not needed to rebuild the model, and leaving them out keeps
        # checkpoints loadable with torch.load(weights_only=True); the full run config is logged separately
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.net = EquivariantConvNet(**net)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.build_metrics()

    def build_metrics(self) -> None:
        """Hook for subclasses: create the task's metrics (called at the end of ``__init__``)."""

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        """Node outputs ``[N, irreps_out.dim]`` of ``self.net`` on a batch."""
        return self.net(batch.x, batch.pos, batch.batch, batch.edge_index)

    def check_irreps(self, datamodule: Any) -> None:
        """Raise ValueError unless the net's irreps equal the DataModule's ``irreps_in``/``irreps_out``."""
        for name in ("irreps_in", "irreps_out"):
            data_irreps = getattr(datamodule, name, None)
            if data_irreps is None:
                continue
            net_irreps = Irreps(getattr(self.net, name))
            if Irreps(data_irreps) != net_irreps:
                raise ValueError(
                    f"model {name}={net_irreps} does not match the data's {name}={Irreps(data_irreps)} "
                    f"({type(datamodule).__name__}); set model.net.{name}: ${{data.{name}}} in the config"
                )

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            self.check_irreps(datamodule)
        if stage == "fit" and self.hparams.compile:
            self.net.compile()

    def _step(self, batch: GraphBatch, stage: str) -> torch.Tensor:
        """Loss of ``batch`` in ``stage`` ("train", "val" or "test"), logging the task's metrics."""
        raise NotImplementedError(f"{type(self).__name__} must define _step(batch, stage)")

    def training_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["e3lab_model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"

    def configure_optimizers(self) -> Any:
        factory = self.optimizer_factory or (lambda params: torch.optim.Adam(params, lr=1e-3))
        optimizer = factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
