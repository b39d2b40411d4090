"""Log the live model's equivariance error during training."""

from __future__ import annotations

import copy
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from typing_extensions import override

from e3lab.callbacks._equivariance_check import equivariance_errors, random_transform
from e3lab.callbacks._graph_inputs import GraphInputs, graph_inputs, model_dtype_device
from e3lab.callbacks._run_files import append_jsonl, log_metrics, run_dir

__all__ = ["EquivarianceCallback", "EquivarianceWarning"]


class EquivarianceWarning(UserWarning):
    """The model's measured equivariance error is past the callback's threshold."""


class EquivarianceCallback(pl.Callback):
    """Measure ``|f(g x) - g f(x)|`` of ``pl_module.net`` on a validation batch and log it.

    ``g`` is a random rotation composed with the inversion, a translation per graph and a node
    permutation within each graph (``edge_index`` relabelled); ``x`` transforms with
    ``net.irreps_in.D_from_matrix``, the outputs with ``net.irreps_out.D_from_matrix``. The net runs
    in eval mode without gradients; its mode is restored afterwards.

    Args:
        every_n_val_epochs: check after every n-th validation epoch (sanity checks excluded); 0 never.
        at_fit_end: check once more when fitting ends (on the last validation batch seen).
        float64: check a float64 copy of the net on float64 inputs, for a precise number;
            otherwise the live net in its own dtype.
        threshold: warn (:class:`EquivarianceWarning`, rank zero) when ``max_rel_error`` exceeds it.
        seed: the transforms are drawn from ``seed + k`` for the ``k``-th check; the global RNG is untouched.

    Logs ``equivariance/max_rel_error``, ``equivariance/mean_rel_error`` (over output irreps blocks)
    and ``equivariance/rel_error/<b>_<ir>`` per block (see ``blockwise_relative_error``), and appends
    each check to ``<run dir>/equivariance.jsonl``. ``last_errors`` keeps the latest numbers.
    """

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        at_fit_end: bool = True,
        float64: bool = False,
        threshold: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if not isinstance(every_n_val_epochs, int) or every_n_val_epochs < 0:
            raise ValueError(f"every_n_val_epochs={every_n_val_epochs!r} must be an int >= 0 (0 disables)")
        if not threshold > 0:
            raise ValueError(f"threshold={threshold!r} must be a positive relative error, e.g. 1e-4")
        self.every_n_val_epochs = every_n_val_epochs
        self.at_fit_end = at_fit_end
        self.float64 = float64
        self.threshold = threshold
        self.seed = seed
        self.last_errors: dict[str, float] = {}
        self._inputs: GraphInputs | None = None
        self._val_epochs = 0
        self._checks = 0

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        net = getattr(pl_module, "net", None)
        if not isinstance(net, torch.nn.Module) or not all(
            hasattr(getattr(net, name, None), "D_from_matrix") for name in ("irreps_in", "irreps_out")
        ):
            raise TypeError(
                f"EquivarianceCallback needs {type(pl_module).__name__}.net to be a torch.nn.Module with "
                "irreps_in and irreps_out (e3lab.o3.Irreps); remove the callback for other models"
            )

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
            self._inputs = graph_inputs(batch).detach()

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._inputs is None or self.every_n_val_epochs == 0:
            return
        self._val_epochs += 1
        if self._val_epochs % self.every_n_val_epochs != 0:
            return
        metrics = self.check(pl_module.net, self._inputs)
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, batch_size=1, rank_zero_only=True)
        self._record(trainer, metrics, "validation")

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.at_fit_end or self._inputs is None:
            return
        metrics = self.check(pl_module.net, self._inputs)
        if trainer.is_global_zero:
            log_metrics(trainer, metrics)
        self._record(trainer, metrics, "fit_end")

    def check(self, net: torch.nn.Module, inputs: GraphInputs) -> dict[str, float]:
        """Run one check of ``net`` on ``inputs``; returns the metrics dict (also kept in ``last_errors``)."""
        transform = random_transform(inputs, self.seed + self._checks)
        self._checks += 1
        dtype, device = model_dtype_device(net)
        if self.float64:
            net, dtype = copy.deepcopy(net).double(), torch.float64
        was_training = net.training
        net.eval()
        try:
            errors = equivariance_errors(net, inputs.to(device=device, dtype=dtype), transform)
        finally:
            net.train(was_training)
        per_block = {key: float(value) for key, value in errors.items()}
        values = list(per_block.values())
        metrics = {
            "equivariance/max_rel_error": max(values),
            "equivariance/mean_rel_error": sum(values) / len(values),
            **{f"equivariance/rel_error/{key}": value for key, value in per_block.items()},
        }
        self.last_errors = metrics
        if metrics["equivariance/max_rel_error"] > self.threshold:
            worst = max(per_block, key=per_block.__getitem__)
            rank_zero_warn(
                f"equivariance error {metrics['equivariance/max_rel_error']:.3g} exceeds threshold "
                f"{self.threshold:g} (worst output block {worst}, {'float64' if self.float64 else dtype}); "
                "the model is not E(3)-equivariant: check for symmetry-breaking operations, or use "
                "float64=True for a precise number",
                category=EquivarianceWarning,
            )
        return metrics

    def _record(self, trainer: pl.Trainer, metrics: dict[str, float], when: str) -> None:
        if trainer.is_global_zero:
            record = {"when": when, "epoch": trainer.current_epoch, "global_step": trainer.global_step}
            append_jsonl(
                run_dir(trainer) / "equivariance.jsonl", {**record, "float64": self.float64, **metrics}
            )
