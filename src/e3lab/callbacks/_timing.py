"""Profile a training step every N steps and log the time spent in each convolution stage, per phase.

A plain step is the network's forward and backward. A potential's force-training step is the energy
forward, the forces ``-dE/dpos`` with ``create_graph=True`` (the first backward) and the backward of
the loss through the forces (the double backward): each is a phase of its own in the breakdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch.profiler import ProfilerActivity, profile
from typing_extensions import override

from e3lab.callbacks._graph_inputs import GraphInputs, graph_inputs
from e3lab.callbacks._run_files import log_image, log_table, run_dir
from e3lab.callbacks._stage_attribution import OTHER, attribute_stages
from e3lab.callbacks._timing_report import timing_columns, timing_metrics, timing_rows, write_timing_files
from e3lab.graph import AtomsBatch
from e3lab.nn import STAGES

__all__ = ["TimingCallback", "profile_force_step", "profile_stages"]


class TimingCallback(pl.Callback):
    """Every ``every_n_steps`` steps, time one extra training step on the current batch, per stage and phase.

    Args:
        every_n_steps: profile after every n-th optimiser step (global steps n, 2n, ...).
        warmup: un-profiled passes run first (caches, allocator, kernel selection).
        stages: ``record_function`` range names to attribute time to; ``e3lab.nn.STAGES`` by default.

    What is profiled:

    - a potential (the module has ``predict(batch, forces, stress, create_graph)`` and the batch is an
      ``AtomsBatch``): :func:`profile_force_step`, the force-training step: energy, forces with
      ``create_graph=True``, then the backward of energy and forces (and stress) as the module's loss
      weights ask. Phases ``fwd``, ``forces``, ``bwd``.
    - otherwise ``pl_module.net`` on a copy of the batch's graph inputs (:func:`profile_stages`).
      Phases ``fwd``, ``bwd``.

    Gradients are taken with ``torch.autograd.grad`` (unit cotangents) in training mode, so ``.grad``,
    the optimiser state, buffers (restored) and the global RNG (forked) are untouched. Time is split by
    :func:`attribute_stages` (CUDA kernel time on GPU, after ``torch.cuda.synchronize``).

    Logs ``timing/<stage>_<phase>_ms``, ``timing/<stage>_ms``, ``timing/total_<phase>_ms`` (for a force
    step, ``timing/total_forces_ms`` is the force computation and ``timing/total_bwd_ms`` the double
    backward), ``timing/total_ms`` and ``timing/wall_ms`` (the profiled pass, profiler overhead
    included); a ``timing/table`` (W&B Table) and a ``timing/breakdown`` image; and writes
    ``<run dir>/timing/step_XXXXXXX.{csv,md,png}``. Other steps cost one integer comparison.
    ``last_breakdown`` keeps the latest ``{stage: {<phase>: ms, ..., "total": ms}}``.
    """

    def __init__(self, every_n_steps: int = 50, warmup: int = 1, stages: Sequence[str] | None = None) -> None:
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps!r} must be an int >= 1")
        if not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup={warmup!r} must be an int >= 0")
        self.every_n_steps = every_n_steps
        self.warmup = warmup
        self.stages = tuple(STAGES) if stages is None else tuple(stages)
        self.last_breakdown: dict[str, dict[str, float]] = {}
        self._last_step = -1
        self._warned = False

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step % self.every_n_steps != 0 or step == self._last_step:
            return
        self._last_step = step
        if isinstance(batch, AtomsBatch) and callable(getattr(pl_module, "predict", None)):
            breakdown, wall_ms = profile_force_step(pl_module, batch, self.warmup, self.stages)
            subject = f"{type(pl_module).__name__} force step"
        else:
            breakdown, wall_ms = profile_stages(pl_module.net, graph_inputs(batch), self.warmup, self.stages)
            subject = type(pl_module.net).__name__
        self.last_breakdown = breakdown
        if not self._warned and all(t["total"] == 0 for s, t in breakdown.items() if s != OTHER):
            self._warned = True
            rank_zero_warn(
                f"TimingCallback found none of the stage ranges {self.stages} in the profile: all time is "
                f"'{OTHER}'. The network must wrap its stages in torch.profiler.record_function(name), and "
                "torch.compile drops those ranges; profile an uncompiled network for a breakdown"
            )
        metrics = {**timing_metrics(breakdown), "timing/wall_ms": wall_ms}
        pl_module.log_dict(metrics, on_step=True, on_epoch=False, batch_size=1, rank_zero_only=True)
        if trainer.is_global_zero:
            title = f"{subject}, step {step}, {_device_name(batch)}"
            paths = write_timing_files(breakdown, run_dir(trainer) / "timing" / f"step_{step:07d}", title)
            log_table(trainer, "timing/table", timing_columns(breakdown), timing_rows(breakdown))
            log_image(trainer, "timing/breakdown", paths["png"])


def profile_stages(
    net: torch.nn.Module, inputs: GraphInputs, warmup: int = 1, stages: Sequence[str] | None = None
) -> tuple[dict[str, dict[str, float]], float]:
    """Profile ``warmup`` + 1 forward+backward passes of ``net(*inputs)``; attribute the last to ``stages``.

    Returns ``(breakdown, wall_ms)``: :func:`attribute_stages`' dict and the profiled pass's wall time.
    """
    inputs = inputs.detach()
    params = [p for p in net.parameters() if p.requires_grad]

    def forward_backward() -> None:
        out = net(*inputs)
        if params and out.requires_grad:
            torch.autograd.grad(out, params, grad_outputs=torch.ones_like(out), allow_unused=True)

    return _profile(forward_backward, net, inputs.pos.device, warmup, stages)


def profile_force_step(
    model: torch.nn.Module, batch: AtomsBatch, warmup: int = 1, stages: Sequence[str] | None = None
) -> tuple[dict[str, dict[str, float]], float]:
    """Profile ``warmup`` + 1 training steps of a potential; attribute the last to ``stages`` and phases.

    One step: ``model.predict(batch, forces=..., stress=..., create_graph=True)`` (the energy forward,
    then forces and stress inside the model's ``"forces"`` range), then ``torch.autograd.grad`` of the
    predictions with unit cotangents to the parameters: what the loss's backward does. Forces are
    included unless ``model.loss_weights["forces"]`` is 0; stress when ``model.loss_weights["stress"]``
    (default 1) is positive, ``batch.stress`` is set and every structure is periodic in 3D.

    Returns ``(breakdown, wall_ms)`` with phases ``fwd``, ``forces`` (``stress`` when the model has only
    such a range), ``bwd`` (see :func:`attribute_stages`).
    """
    weights = getattr(model, "loss_weights", {})
    forces = weights.get("forces", 1.0) > 0
    stress = weights.get("stress", 1.0) > 0 and batch.stress is not None and bool(batch.pbc.all())
    keys = ("energy", *(("forces",) if forces else ()), *(("stress",) if stress else ()))
    params = [p for p in model.parameters() if p.requires_grad]

    def training_step() -> None:
        out = model.predict(batch, forces=forces, stress=stress, create_graph=True)
        outputs = [out[key] for key in keys if out[key].requires_grad]
        if params and outputs:
            cotangents = [torch.ones_like(o) for o in outputs]
            torch.autograd.grad(outputs, params, grad_outputs=cotangents, allow_unused=True)

    return _profile(training_step, model, batch.pos.device, warmup, stages)


def _profile(
    step: Callable[[], None],
    module: torch.nn.Module,
    device: torch.device,
    warmup: int,
    stages: Sequence[str] | None,
) -> tuple[dict[str, dict[str, float]], float]:
    """Run ``step`` ``warmup`` times, then once under the profiler; restore ``module``'s buffers."""
    cuda = device.type == "cuda"
    saved_buffers = [b.detach().clone() for b in module.buffers()]
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with torch.random.fork_rng(devices=[device] if cuda else []), torch.enable_grad():
        for _ in range(warmup):
            step()
        _synchronize(device)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            step()
            _synchronize(device)
            wall_ms = (time.perf_counter() - start) * 1e3
    with torch.no_grad():
        for buffer, saved in zip(module.buffers(), saved_buffers, strict=True):
            buffer.copy_(saved)
    return attribute_stages(prof.events(), stages), wall_ms


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(batch: Any) -> str:
    device = batch.pos.device
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
