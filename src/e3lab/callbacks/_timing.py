"""Profile a forward+backward every N steps and log the time spent in each convolution stage."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch.profiler import ProfilerActivity, profile
from typing_extensions import override

from e3lab.callbacks._graph_inputs import GraphInputs, graph_inputs
from e3lab.callbacks._run_files import log_image, log_table, run_dir
from e3lab.callbacks._stage_attribution import OTHER, attribute_stages
from e3lab.callbacks._timing_report import TIMING_COLUMNS, timing_metrics, timing_rows, write_timing_files
from e3lab.nn import STAGES

__all__ = ["TimingCallback", "profile_stages"]


class TimingCallback(pl.Callback):
    """Every ``every_n_steps`` steps, time one extra forward+backward of the current batch, per stage.

    Args:
        every_n_steps: profile after every n-th optimiser step (global steps n, 2n, ...).
        warmup: un-profiled forward+backward passes run first (caches, allocator, kernel selection).
        stages: ``record_function`` range names to attribute time to; ``e3lab.nn.STAGES`` by default.

    The profiled pass runs ``pl_module.net`` on a copy of the batch's inputs in training mode and
    takes gradients with ``torch.autograd.grad`` (a unit cotangent), so ``.grad``, the optimiser
    state, buffers (restored) and the global RNG (forked) are untouched. Time is split by
    :func:`attribute_stages` (CUDA kernel time on GPU, after ``torch.cuda.synchronize``).

    Logs ``timing/<stage>_fwd_ms``, ``timing/<stage>_bwd_ms``, ``timing/<stage>_ms``,
    ``timing/total_ms`` and ``timing/wall_ms`` (the profiled pass, profiler overhead included); a
    ``timing/table`` (W&B Table) and a ``timing/breakdown`` image; and writes
    ``<run dir>/timing/step_XXXXXXX.{csv,md,png}``. Other steps cost one integer comparison.
    ``last_breakdown`` keeps the latest ``{stage: {"fwd", "bwd", "total"}}`` (ms).
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
        breakdown, wall_ms = profile_stages(pl_module.net, graph_inputs(batch), self.warmup, self.stages)
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
            title = f"{type(pl_module.net).__name__}, step {step}, {_device_name(batch)}"
            paths = write_timing_files(breakdown, run_dir(trainer) / "timing" / f"step_{step:07d}", title)
            log_table(trainer, "timing/table", TIMING_COLUMNS, timing_rows(breakdown))
            log_image(trainer, "timing/breakdown", paths["png"])


def profile_stages(
    net: torch.nn.Module, inputs: GraphInputs, warmup: int = 1, stages: Sequence[str] | None = None
) -> tuple[dict[str, dict[str, float]], float]:
    """Profile ``warmup`` + 1 forward+backward passes of ``net(*inputs)``; attribute the last to ``stages``.

    Returns ``(breakdown, wall_ms)``: :func:`attribute_stages`' dict and the profiled pass's wall time.
    """
    inputs = inputs.detach()
    device = inputs.pos.device
    cuda = device.type == "cuda"
    params = [p for p in net.parameters() if p.requires_grad]
    saved_buffers = [b.detach().clone() for b in net.buffers()]
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with torch.random.fork_rng(devices=[device] if cuda else []), torch.enable_grad():
        for _ in range(warmup):
            _forward_backward(net, inputs, params)
        _synchronize(device)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            _forward_backward(net, inputs, params)
            _synchronize(device)
            wall_ms = (time.perf_counter() - start) * 1e3
    with torch.no_grad():
        for buffer, saved in zip(net.buffers(), saved_buffers, strict=True):
            buffer.copy_(saved)
    return attribute_stages(prof.events(), stages), wall_ms


def _forward_backward(net: torch.nn.Module, inputs: GraphInputs, params: list[torch.nn.Parameter]) -> None:
    out = net(*inputs)
    if params and out.requires_grad:
        torch.autograd.grad(out, params, grad_outputs=torch.ones_like(out), allow_unused=True)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(batch: Any) -> str:
    device = graph_inputs(batch).pos.device
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
