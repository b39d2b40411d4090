"""Check that a potential's forces are ``-dE/dpos`` (and its stress ``(1/V) dE/d(strain)``) by finite
differences of its energy: catches a wrong custom backward kernel, which autograd forces inherit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor

from e3lab.callbacks._potential_access import PotentialCheck, evaluation_model
from e3lab.graph import AtomsBatch

__all__ = ["ForceConservationCallback", "ForceConservationWarning", "finite_difference_errors"]


class ForceConservationWarning(UserWarning):
    """A potential's forces (or stress) disagree with finite differences of its energy."""


def _energy(model: Any, batch: AtomsBatch, pos: Tensor, cell: Tensor) -> Tensor:
    return (
        model.predict(dataclasses.replace(batch, pos=pos, cell=cell), forces=False)["energy"].detach().sum()
    )


def _derivative(energy: Callable[[float], Tensor], step: float) -> Tensor:
    """``dE/dt`` at ``t = 0`` by the five-point central stencil (error ``O(step^4)``)."""
    near = energy(step) - energy(-step)
    far = energy(2 * step) - energy(-2 * step)
    return (8 * near - far) / (12 * step)


def finite_difference_errors(
    model: Any, batch: AtomsBatch, step: float, directions: int, generator: torch.Generator
) -> dict[str, Tensor]:
    """Central differences of the total energy of ``batch`` against the model's forces and stress.

    Forces: along unit displacements ``d`` of all positions (``[N, 3]``, ``|d| = 1``; the first along the
    forces themselves, the others random), the derivative ``dE(r + t d)/dt`` by central differences (the
    five-point stencil at ``t = +-h, +-2h``: error ``O(h^4)``) is compared with ``-F . d``; the error is
    ``|derivative + F . d| / |F|``, the worst over ``directions``. A random direction sees an error
    orthogonal to ``F`` at about ``1/sqrt(3N)`` of its size; the first sees any error along ``F``.

    Stress (only when every structure is periodic in 3D): along a random symmetric strain ``s`` per
    structure, applied to positions and cell (``x -> x (1 + t s)``), the derivative is compared with
    ``sum_b V_b (sigma_b : s_b)``, relative to ``sqrt(sum_b (V_b |sigma_b|)^2)``.

    Edges are kept, so the energy is a smooth function of the displacement. Returns scalar tensors
    ``force`` (and ``stress``).
    """
    stress = bool(batch.pbc.all())
    out = model.predict(batch, forces=True, stress=stress, create_graph=False)
    forces = out["forces"].detach()
    scale = forces.norm().clamp_min(torch.finfo(forces.dtype).tiny)
    errors = []
    for k in range(directions):
        d = (
            forces
            if k == 0
            else torch.randn(forces.shape, generator=generator, dtype=torch.float64).to(forces)
        )
        d = d / d.norm().clamp_min(torch.finfo(d.dtype).tiny)
        derivative = _derivative(lambda t, d=d: _energy(model, batch, batch.pos + t * d, batch.cell), step)
        errors.append((derivative + (forces * d).sum()).abs() / scale)
    result = {"force": torch.stack(errors).max()}
    if stress:
        sigma = out["stress"].detach()
        volume = torch.linalg.det(batch.cell).abs()
        s = torch.randn(batch.num_graphs, 3, 3, generator=generator, dtype=torch.float64).to(sigma)
        s = (s + s.transpose(1, 2)) / 2
        s = s / s.norm()

        def strained(t: float) -> Tensor:
            eps = torch.eye(3, dtype=s.dtype, device=s.device) + t * s
            pos = torch.einsum("nc,ncd->nd", batch.pos, eps[batch.batch])
            return _energy(model, batch, pos, batch.cell @ eps)

        expected = (volume * (sigma * s).sum(dim=(1, 2))).sum()
        stress_scale = (volume * sigma.flatten(1).norm(dim=1)).norm().clamp_min(torch.finfo(sigma.dtype).tiny)
        result["stress"] = (_derivative(strained, step) - expected).abs() / stress_scale
    return result


class ForceConservationCallback(PotentialCheck):
    """Log ``physics/force_fd_rel_error`` (and ``physics/stress_fd_rel_error``) at validation ends.

    On the first validation batch (an ``AtomsBatch``), :func:`finite_difference_errors` compares the
    module's forces with central differences of its energy. The module must offer
    ``predict(batch, forces, stress, create_graph)`` (as ``e3lab.models.InteratomicPotential`` does).

    Args:
        every_n_val_epochs: check after every n-th validation epoch (sanity checks excluded); 0 never.
        at_fit_end: check once more when fitting ends.
        float64: check a float64 copy of the module (the default: differences need the precision).
        step: finite-difference step ``h`` in A (and in strain); default ``1e-4`` in float64, ``1e-2``
            in float32.
        directions: displacement directions per check (the first along the forces).
        threshold: warn (:class:`ForceConservationWarning`) past this relative error.
        seed: directions of the ``k``-th check are drawn from ``seed + k``; the global RNG is untouched.

    Appends each check to ``<run dir>/physics.jsonl``; ``last_errors`` keeps the latest numbers.
    """

    record_file = "physics.jsonl"

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        at_fit_end: bool = True,
        float64: bool = True,
        step: float | None = None,
        directions: int = 3,
        threshold: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if step is not None and not step > 0:
            raise ValueError(f"step={step!r} must be a positive displacement in A, e.g. 1e-4")
        if not isinstance(directions, int) or directions < 1:
            raise ValueError(f"directions={directions!r} must be an int >= 1")
        super().__init__(every_n_val_epochs, at_fit_end, float64, threshold)
        self.step = step
        self.directions = directions
        self.seed = seed

    def check(self, pl_module: pl.LightningModule, batch: AtomsBatch) -> dict[str, float]:
        """One check of ``pl_module`` on ``batch``; returns the metrics (also kept in ``last_errors``)."""
        generator = torch.Generator().manual_seed(self.seed + self._checks)
        with evaluation_model(pl_module, self.float64) as (model, dtype, device):
            step = self.step if self.step is not None else (1e-4 if dtype == torch.float64 else 1e-2)
            errors = finite_difference_errors(
                model, batch.to(device=device, dtype=dtype), step, self.directions, generator
            )
        metrics = {f"physics/{name}_fd_rel_error": float(error) for name, error in errors.items()}
        bad = {k: v for k, v in metrics.items() if not v <= self.threshold}
        if bad:
            rank_zero_warn(
                "finite differences of the energy disagree with the model's derivatives: "
                + ", ".join(f"{k} = {v:.3g}" for k, v in bad.items())
                + f" (threshold {self.threshold:g}, {dtype}, step {step:g}); forces or stress are not the "
                "energy's gradient: check custom autograd functions and kernels (run their gradcheck), "
                "or use float64=True for a precise number",
                category=ForceConservationWarning,
            )
        return metrics
