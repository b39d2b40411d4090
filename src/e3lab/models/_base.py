"""Shared LightningModule plumbing: the backbone and optimizers from configs, irreps checks, compile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from e3lab.graph import GraphBatch
from e3lab.models._build import build, build_backbone
from e3lab.o3 import Irreps

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


def _factory(value: Callable[..., Any] | dict[str, Any] | None, name: str) -> Callable[..., Any] | None:
    """A factory from a callable, or from a ``_target_`` config (with ``_partial_: true``), or None."""
    if value is None or callable(value):
        return value
    if isinstance(value, dict) and "_target_" in value:
        return build({**value, "_partial_": True})
    raise TypeError(f"{name} must be a callable, a _target_ config or None, got {value!r}")


class EquivariantTask(L.LightningModule):
    """Base class: ``self.net`` is a backbone (:class:`~e3lab.nn.Backbone`) built from the config ``net``.

    Args:
        net: the backbone's config, a plain dict: ``_target_`` (its class, e.g.
            ``e3lab.nn.EquivariantConvNet``
            or ``e3lab.nn.NequIPNet``) and its keyword arguments (``irreps_in``, ``irreps_out``, ...).
        optimizer: factory ``params -> Optimizer``, or its ``_target_`` config (built as a partial);
            default Adam(lr=1e-3).
        scheduler: factory ``optimizer -> LRScheduler``, its ``_target_`` config, or ``None``; stepped
            every epoch.
        compile: compile ``self.net`` in place with ``torch.compile`` at fit start (never this module).

    Checkpoints record the class and the backbone's config, so ``load_from_checkpoint(path)`` needs no
    other argument (the loaded model has the default optimizer unless one is passed).
    """

    def __init__(
        self,
        net: dict[str, Any],
        optimizer: OptimizerFactory | dict[str, Any] | None = None,
        scheduler: SchedulerFactory | dict[str, Any] | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        # the optimizer/scheduler factories are not needed to rebuild the model, and leaving them out keeps
        # checkpoints loadable with torch.load(weights_only=True); the full run config is logged separately
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.net = build_backbone(net)
        self.optimizer_factory = _factory(optimizer, "optimizer")
        self.scheduler_factory = _factory(scheduler, "scheduler")
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
        """The optimizer over the trainable parameters; a ReduceLROnPlateau schedule watches ``val/loss``."""
        factory = self.optimizer_factory or (lambda params: torch.optim.Adam(params, lr=1e-3))
        optimizer = factory([p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        config = {"scheduler": scheduler, "interval": "epoch"}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            config["monitor"] = "val/loss"
        return {"optimizer": optimizer, "lr_scheduler": config}
