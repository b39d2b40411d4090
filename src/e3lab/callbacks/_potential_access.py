"""What the potential callbacks share: the module they need, a held-out batch, a copy to evaluate, and
the schedule of their checks (:class:`PotentialCheck`)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import torch
from typing_extensions import override

from e3lab.callbacks._graph_inputs import model_dtype_device
from e3lab.callbacks._run_files import append_jsonl, log_metrics, run_dir
from e3lab.graph import AtomsBatch

__all__ = ["PotentialCheck", "evaluation_model", "held_out_copy", "require_potential"]


def require_potential(pl_module: pl.LightningModule, callback: str) -> None:
    """Raise TypeError unless ``pl_module`` has ``predict(batch, forces, stress, create_graph)`` and a
    ``cutoff``."""
    if not callable(getattr(pl_module, "predict", None)) or not isinstance(
        getattr(pl_module, "cutoff", None), (int, float)
    ):
        raise TypeError(
            f"{callback} needs an interatomic potential: {type(pl_module).__name__} must define "
            "predict(batch, forces=True, stress=False, create_graph=False) -> {'energy', 'forces', ...} "
            "and a float cutoff (e3lab.models.InteratomicPotential does); remove the callback for other "
            "models"
        )


def held_out_copy(batch: Any) -> AtomsBatch:
    """A detached copy of an ``AtomsBatch`` usable with autograd (made outside inference mode)."""
    if not isinstance(batch, AtomsBatch):
        raise TypeError(
            f"expected an e3lab.graph.AtomsBatch from the validation dataloader, got {type(batch).__name__}"
        )
    with torch.inference_mode(False):
        fields = {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}
        return AtomsBatch(**{k: None if v is None else v.detach().clone() for k, v in fields.items()})


@contextmanager
def evaluation_model(
    pl_module: pl.LightningModule, float64: bool
) -> Iterator[tuple[Any, torch.dtype, torch.device]]:
    """Yield ``(model, dtype, device)`` to evaluate in eval mode, with autograd on (forces need it).

    With ``float64`` the model is a float64 deep copy (the trainer it points to is shared, not copied);
    otherwise the live module, whose training mode is restored afterwards.
    """
    dtype, device = model_dtype_device(pl_module)
    if float64:
        trainer = getattr(pl_module, "_trainer", None)
        memo = {} if trainer is None else {id(trainer): trainer}
        model, dtype = copy.deepcopy(pl_module, memo).to(torch.float64), torch.float64
    else:
        model = pl_module
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield model, dtype, device
    finally:
        model.train(was_training)


class PotentialCheck(pl.Callback):
    """Base of callbacks that check a potential on the first validation batch and log the result.

    Subclasses define :meth:`check` (``(pl_module, batch) -> metrics``) and ``record_file`` (a JSON lines
    file in the run directory). A check runs after every ``every_n_val_epochs``-th validation epoch
    (logged with the epoch's metrics) and, with ``at_fit_end``, once more when fitting ends (sent to the
    loggers at the last step). ``last_errors`` keeps the latest metrics.
    """

    record_file = "checks.jsonl"

    def __init__(self, every_n_val_epochs: int, at_fit_end: bool, float64: bool, threshold: float) -> None:
        if not isinstance(every_n_val_epochs, int) or every_n_val_epochs < 0:
            raise ValueError(f"every_n_val_epochs={every_n_val_epochs!r} must be an int >= 0 (0 disables)")
        if not threshold > 0:
            raise ValueError(f"threshold={threshold!r} must be a positive relative error, e.g. 1e-4")
        self.every_n_val_epochs = every_n_val_epochs
        self.at_fit_end = at_fit_end
        self.float64 = float64
        self.threshold = threshold
        self.last_errors: dict[str, float] = {}
        self._batch: AtomsBatch | None = None
        self._val_epochs = 0
        self._checks = 0

    def check(self, pl_module: pl.LightningModule, batch: AtomsBatch) -> dict[str, float]:
        """Check ``pl_module`` on ``batch``; return the metrics."""
        raise NotImplementedError(f"{type(self).__name__} must define check(pl_module, batch)")

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        require_potential(pl_module, type(self).__name__)

    @override
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking:
            self._batch = held_out_copy(batch)

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._batch is None or self.every_n_val_epochs == 0:
            return
        self._val_epochs += 1
        if self._val_epochs % self.every_n_val_epochs != 0:
            return
        metrics = self._run(pl_module)
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, batch_size=1, rank_zero_only=True)
        self._record(trainer, metrics, "validation")

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.at_fit_end or self._batch is None:
            return
        metrics = self._run(pl_module)
        if trainer.is_global_zero:
            log_metrics(trainer, metrics)
        self._record(trainer, metrics, "fit_end")

    def _run(self, pl_module: pl.LightningModule) -> dict[str, float]:
        assert self._batch is not None
        metrics = self.check(pl_module, self._batch)
        self._checks += 1
        self.last_errors = metrics
        return metrics

    def _record(self, trainer: pl.Trainer, metrics: dict[str, float], when: str) -> None:
        if trainer.is_global_zero:
            record = {"when": when, "epoch": trainer.current_epoch, "global_step": trainer.global_step}
            append_jsonl(run_dir(trainer) / self.record_file, {**record, "float64": self.float64, **metrics})
