"""InteratomicPotential: energies, forces and stress of structures of atoms from an equivariant backbone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from e3lab import _value_checks
from e3lab.graph import AtomsBatch
from e3lab.models._base import EquivariantTask, OptimizerFactory, SchedulerFactory
from e3lab.models._ema import weight_average
from e3lab.models._potential_metrics import EvaluationLoss, PotentialMetrics
from e3lab.models._potential_outputs import energy_forces_stress
from e3lab.o3 import Irreps


def _per_element(
    value: float | Sequence[float] | None, default: float, symbols: list[str], name: str
) -> torch.Tensor:
    """``[n_species]`` tensor from a number (every element) or one value per element of ``symbols``."""
    if value is None:
        value = default
    values = [float(value)] * len(symbols) if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) != len(symbols):
        raise ValueError(
            f"{name} has {len(values)} values but chemical_symbols {symbols} has {len(symbols)}: give one "
            "value "
            "per element (in that order) or a single number"
        )
    tensor = torch.tensor(values, dtype=torch.get_default_dtype())
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name}={values} has NaN or Inf entries: check the training data statistics")
    return tensor


class InteratomicPotential(EquivariantTask):
    """A machine-learned interatomic potential: ``E = sum_i (scale[Z_i] e_i + shift[Z_i])``, ``F = -dE/dr``.

    The backbone (``net``, any :class:`~e3lab.nn.Backbone` with ``irreps_in = "{n}x0e"``, ``irreps_out =
    "1x0e"``) reads the one-hot species of each atom and the edge vectors of the neighbour list (periodic
    images included) and returns ``e_i``; each atom's energy is scaled and shifted by its element's values.
    Forces are ``-dE/dpos`` and stress ``(1/V) dE/d(strain)`` (see :meth:`predict`).

    Training minimises ``energy_weight * MSE(E/n) + forces_weight * MSE(F) + stress_weight * MSE(stress)``
    (per-atom energies, force and stress components). With ``ema_decay`` an exponential moving average of
    the backbone's weights is kept: validation, test and inference (any call in eval mode) use it, training
    uses the live weights, and checkpoints hold both (``ema.*``). Logged per stage (``train``, ``val``,
    ``test``): ``loss``, ``loss_energy``/``loss_forces``/``loss_stress`` and the errors of
    :class:`PotentialMetrics` (``energy_mae_mev_per_atom``, ``forces_mae_mev_per_a``, ...).

    Args:
        net: the backbone's ``_target_`` config (its ``irreps_in`` must be ``"{len(chemical_symbols)}x0e"``).
        chemical_symbols: the elements, in the order of the species indices.
        cutoff: the neighbour-list radius the model was built for (A); a calculator builds its lists with it.
        per_element_energy_shift: eV per atom of each element (or one number), e.g. the least-squares fit of
            the training energies on the element counts; default 0.
        per_element_energy_scale: multiplies the backbone's output, per element or one number, e.g. the
            training forces' RMS; default 1.
        energy_weight, forces_weight, stress_weight: the loss weights (>= 0).
        ema_decay: decay of the weight average (default 0.999); None or 0 turns it off.
        optimizer, scheduler, compile: as :class:`EquivariantTask` (a ReduceLROnPlateau watches val/loss).

    ``InteratomicPotential.load_from_checkpoint(path)`` rebuilds it from the checkpoint alone.
    """

    def __init__(
        self,
        net: dict[str, Any],
        chemical_symbols: Sequence[str],
        cutoff: float,
        per_element_energy_shift: float | Sequence[float] | None = None,
        per_element_energy_scale: float | Sequence[float] | None = None,
        energy_weight: float = 1.0,
        forces_weight: float = 1.0,
        stress_weight: float = 0.0,
        ema_decay: float | None = 0.999,
        optimizer: OptimizerFactory | dict[str, Any] | None = None,
        scheduler: SchedulerFactory | dict[str, Any] | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(net, optimizer=optimizer, scheduler=scheduler, compile=compile)
        self.chemical_symbols = [str(s) for s in chemical_symbols]
        if not self.chemical_symbols or len(set(self.chemical_symbols)) != len(self.chemical_symbols):
            raise ValueError(f"chemical_symbols={self.chemical_symbols} must list each element once")
        if not cutoff > 0:
            raise ValueError(f"cutoff={cutoff!r} must be > 0 (A)")
        self.cutoff = float(cutoff)
        for name, weight in (("energy", energy_weight), ("forces", forces_weight), ("stress", stress_weight)):
            if not weight >= 0:
                raise ValueError(f"{name}_weight={weight!r} must be >= 0")
        self.loss_weights = {
            "energy": float(energy_weight),
            "forces": float(forces_weight),
            "stress": float(stress_weight),
        }
        if compile and (forces_weight > 0 or stress_weight > 0):
            raise ValueError(
                "compile=True cannot train on forces or stress: torch.compile does not support the double "
                "backward of force training (the gradient of -dE/dpos); use compile=false"
            )
        expected = (Irreps(f"{len(self.chemical_symbols)}x0e"), Irreps("1x0e"))
        if (Irreps(self.net.irreps_in), Irreps(self.net.irreps_out)) != expected:
            raise ValueError(
                f"the backbone maps {self.net.irreps_in} -> {self.net.irreps_out}; a potential of "
                f"{len(self.chemical_symbols)} elements needs {expected[0]} (one-hot species) -> 1x0e: set "
                "model.net.irreps_in: ${data.irreps_in} and irreps_out: ${data.irreps_out}"
            )
        symbols = self.chemical_symbols
        self.register_buffer(
            "energy_shift", _per_element(per_element_energy_shift, 0.0, symbols, "per_element_energy_shift")
        )
        self.register_buffer(
            "energy_scale", _per_element(per_element_energy_scale, 1.0, symbols, "per_element_energy_scale")
        )
        self.ema = weight_average(self.net, float(ema_decay)) if ema_decay else None
        self.train_metrics, self.val_metrics, self.test_metrics = (PotentialMetrics() for _ in range(3))
        self.val_loss, self.test_loss = (EvaluationLoss(self.loss_weights) for _ in range(2))

    @property
    def inference_net(self) -> torch.nn.Module:
        """The weights eval mode uses: the moving average when there is one, else the live backbone."""
        return self.ema.module if self.ema is not None else self.net

    def predict(
        self, batch: AtomsBatch, forces: bool = True, stress: bool = False, create_graph: bool = False
    ) -> dict[str, torch.Tensor]:
        """Energies ``energy [B]`` and ``atomic_energy [N]`` (eV), ``forces [N, 3]`` (eV/A) if ``forces``,
        ``stress [B, 3, 3]`` (eV/A^3, ASE's sign) if ``stress``.

        The edges are ``batch.edge_index`` with vectors ``pos[i] - pos[j] + edge_shift @ cell``; stress needs
        cells with a volume. ``create_graph=True`` keeps the gradients' graph (for a loss on forces). Runs the
        live weights in train mode and the moving average in eval mode; works under ``torch.no_grad`` (not
        under ``torch.inference_mode``). Profiler ranges: ``energy``, then ``forces`` (or ``stress``).
        """
        self._check_batch(batch)
        net = self.net if self.training else self.inference_net
        one_hot = torch.nn.functional.one_hot(batch.species, len(self.chemical_symbols)).to(batch.pos.dtype)

        def atomic_energy(pos: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
            energy = net(one_hot, pos, batch.batch, batch.edge_index, edge_vec)[:, 0]
            return energy * self.energy_scale[batch.species] + self.energy_shift[batch.species]

        with torch.enable_grad():
            return energy_forces_stress(atomic_energy, batch, forces, stress, create_graph)

    def forward(self, batch: AtomsBatch) -> dict[str, torch.Tensor]:
        """``predict(batch)``: energies and forces."""
        return self.predict(batch)

    def _check_batch(self, batch: AtomsBatch) -> None:
        if not isinstance(batch, AtomsBatch):
            raise TypeError(f"expected an e3lab.graph.AtomsBatch, got {type(batch).__name__}")
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                "forces and stress are gradients, which torch.inference_mode() forbids: use torch.no_grad() "
                "(or Trainer(inference_mode=False))"
            )
        dtype = self.energy_shift.dtype
        if batch.pos.dtype != dtype:
            raise TypeError(
                f"the batch is {batch.pos.dtype} but the model is {dtype}: use batch.to(dtype={dtype}) or "
                f"model.to({batch.pos.dtype})"
            )
        n = len(self.chemical_symbols)
        if not batch.species.numel() or not _value_checks.values_checkable(batch.species):
            return  # GPU batches were checked where they were collated; traced ones have no values
        if int(batch.species.min()) < 0 or int(batch.species.max()) >= n:
            bad = batch.species[(batch.species < 0) | (batch.species >= n)][0]
            raise ValueError(
                f"species index {int(bad)} is outside chemical_symbols {self.chemical_symbols} "
                f"(indices 0..{n - 1}):"
                " build the data with the model's chemical_symbols"
            )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None)
        for name in ("chemical_symbols", "cutoff"):
            value = getattr(datamodule, name, None)
            mine = getattr(self, name)
            if value is not None and (list(value) if name == "chemical_symbols" else float(value)) != mine:
                raise ValueError(
                    f"the data's {name}={value} differs from the model's {name}={mine}: set model.{name}: "
                    f"${{data.{name}}}"
                )
        # forces are gradients: the evaluation loops must run under no_grad, not inference_mode
        for loop in (
            self.trainer.fit_loop.epoch_loop.val_loop,
            self.trainer.validate_loop,
            self.trainer.test_loop,
            self.trainer.predict_loop,
        ):
            loop.inference_mode = False

    def _step(self, batch: AtomsBatch, stage: str) -> torch.Tensor:
        training = stage == "train"
        for key in ("energy", "forces", "stress"):
            if self.loss_weights[key] > 0 and training and getattr(batch, key) is None:
                raise ValueError(
                    f"{key}_weight={self.loss_weights[key]} but the batch has no {key}: "
                    f"set model.{key}_weight: 0 or "
                    f"give the data {key} (check the data config's {key} key)"
                )
        want_forces = self.loss_weights["forces"] > 0 if training else batch.forces is not None
        want_stress = self._stress_wanted(batch, training)
        pred = self.predict(batch, forces=want_forces, stress=want_stress, create_graph=training)
        losses = self._losses(pred, batch)
        loss = pred["energy"].new_zeros(())
        for key, (value, _) in losses.items():
            loss = loss + self.loss_weights[key] * value
        metrics: PotentialMetrics = getattr(self, f"{stage}_metrics")
        metrics.update(pred, batch)
        if training:
            size = batch.num_graphs
            self.log("train/loss", loss, prog_bar=True, batch_size=size, on_step=True, on_epoch=True)
            for key, (value, _) in losses.items():
                self.log(f"train/loss_{key}", value, batch_size=size, on_step=False, on_epoch=True)
        else:  # logged at the epoch's end: exact over the whole set (see EvaluationLoss)
            getattr(self, f"{stage}_loss").update(losses)
        for name, metric in metrics.updated().items():
            self.log(f"{stage}/{name}", metric, batch_size=batch.num_graphs, on_step=False, on_epoch=True)
        return loss

    def _stress_wanted(self, batch: AtomsBatch, training: bool) -> bool:
        """Stress is computed for batches with stress targets (NaN marks a structure without one) whose
        cells all have a volume, and in training only when it is in the loss."""
        if batch.stress is None or (training and self.loss_weights["stress"] == 0):
            return False
        if not bool(torch.isfinite(batch.stress).all(dim=(1, 2)).any()):
            return False
        return bool((torch.linalg.det(batch.cell).abs() > 1e-12).all())

    def _losses(
        self, pred: dict[str, torch.Tensor], batch: AtomsBatch
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor | int]]:
        """``(MSE, number of entries)`` of the per-atom energy, the force components and the stress
        components (those with targets; structures whose stress target is NaN are left out of the stress
        term)."""
        losses = {}
        if batch.energy is not None:
            num_atoms = batch.num_atoms.to(pred["energy"])
            error = (pred["energy"] - batch.energy) / num_atoms
            losses["energy"] = (torch.mean(error**2), error.numel())
        if "forces" in pred and batch.forces is not None:
            error = pred["forces"] - batch.forces
            losses["forces"] = (torch.mean(error**2), error.numel())
        if "stress" in pred and batch.stress is not None:
            rows = torch.isfinite(batch.stress).all(dim=(1, 2))
            error = pred["stress"][rows] - batch.stress[rows]
            losses["stress"] = (torch.mean(error**2), 9 * rows.sum())
        return losses

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation_loss("val")

    def on_test_epoch_end(self) -> None:
        self._log_evaluation_loss("test")

    def _log_evaluation_loss(self, stage: str) -> None:
        evaluation: EvaluationLoss = getattr(self, f"{stage}_loss")
        for name, value in evaluation.compute().items():  # already reduced over the DDP ranks
            self.log(f"{stage}/{name}", value, prog_bar=name == "loss", on_epoch=True)
        evaluation.reset()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.net)
