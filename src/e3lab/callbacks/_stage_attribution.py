"""Attribute profiled time to the named stages of a network, per phase (forward, forces, backward)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch.autograd import DeviceType

from e3lab.nn import STAGES

__all__ = ["BACKWARD_PREFIX", "OTHER", "PHASE_RANGES", "attribute_stages"]

BACKWARD_PREFIX = "autograd::engine::evaluate_function: "
OTHER = "other"
# record_function ranges of an interatomic potential around its derivatives (forces via autograd with
# create_graph, stress via the strain derivative): time inside them is a phase of its own
PHASE_RANGES = ("forces", "stress")


def attribute_stages(
    profiler_events: Iterable[Any],
    stages: Sequence[str] | None = None,
    use_device_time: bool | None = None,
    phase_ranges: Sequence[str] = PHASE_RANGES,
) -> dict[str, dict[str, float]]:
    """Split profiled time between ``stages`` (``record_function`` range names) and ``"other"``, per phase.

    Args:
        profiler_events: ``torch.profiler.profile(...).events()`` of a forward and a backward pass (for a
            potential: the energy, the forces with ``create_graph=True``, then the loss's backward).
        stages: the range names; ``e3lab.nn.STAGES`` by default.
        use_device_time: attribute the device (CUDA) kernel time launched by each op instead of its
            CPU time; by default, whenever the events carry any device time.
        phase_ranges: ranges that mark phases of their own (``"forces"``, ``"stress"``).

    Returns:
        ``{stage: {"fwd": ms, <phase>: ms, ..., "bwd": ms, "total": ms}}`` for every stage, then
        ``"other"``; a ``<phase>`` key for each of ``phase_ranges`` that occurs, so a plain step gives
        ``fwd``, ``bwd`` and ``total``, a potential's force step ``fwd``, ``forces``, ``bwd``, ``total``.

    Phase: an op that starts inside a ``phase_ranges`` range (time window, any thread: the autograd
    engine may run on another thread) belongs to that phase; otherwise to ``"bwd"`` when it runs under an
    ``autograd::engine::evaluate_function: XBackward0`` event, else to ``"fwd"``. For a force step,
    ``bwd`` is the backward of the loss through the forces: the backward-of-backward.

    Stage: each CPU op contributes its *self* time, so nothing is counted twice. A forward op belongs to
    the innermost enclosing stage range (or ``"other"``). Autograd runs outside those ranges, so every op
    under ``evaluate_function: XBackward0`` is charged to the stage of the op that created ``XBackward0``;
    the two share the autograd sequence number (keyed by the creating thread). When several ops carry
    that number, the last one to start is the node's creator. A node created while differentiating (with
    ``create_graph=True``) belongs to the stage of the node being differentiated, so the second-order
    work of a force step lands in the convolution stage it differentiates. Unmatched backward work
    (gradient accumulation) is ``"other"``.
    """
    stages = tuple(STAGES) if stages is None else tuple(stages)
    if OTHER in stages:
        raise ValueError(f"stages={stages!r} must not contain the reserved name {OTHER!r}")
    events = sorted(
        (e for e in profiler_events if e.device_type == DeviceType.CPU), key=lambda e: e.time_range.start
    )
    if use_device_time is None:
        use_device_time = any(e.self_device_time_total > 0 for e in events)
    stage_set = set(stages)
    windows = [(e.time_range.start, e.time_range.end, e.name) for e in events if e.name in phase_ranges]

    def nearest(event: Any, accept: Any) -> Any:
        while event is not None and not accept(event):
            event = event.cpu_parent
        return event

    def is_backward_root(event: Any) -> bool:
        return event.name.startswith(BACKWARD_PREFIX)

    def is_stage(event: Any) -> bool:
        return event.name in stage_set

    creators: dict[tuple[int, int], tuple[float, str]] = {}  # (thread, seq) -> (start, stage)

    def creator_stage(root: Any) -> str:
        return creators.get((root.fwd_thread, root.sequence_nr), (0.0, OTHER))[1]

    def stage_of(event: Any, root: Any) -> str:
        return getattr(nearest(event, is_stage), "name", OTHER) if root is None else creator_stage(root)

    for (
        event
    ) in events:  # in start order: a node's creator is seen before any node made while differentiating it
        if event.sequence_nr < 0 or is_backward_root(event):
            continue
        key = (event.thread, event.sequence_nr)
        start = event.time_range.start
        if key not in creators or start >= creators[key][0]:
            creators[key] = (start, stage_of(event, nearest(event, is_backward_root)))

    phases = ["fwd", *(p for p in phase_ranges if any(w[2] == p for w in windows)), "bwd"]
    totals = {name: dict.fromkeys(phases, 0.0) for name in (*stages, OTHER)}
    for event in events:
        time_us = event.self_device_time_total if use_device_time else event.self_cpu_time_total
        root = nearest(event, is_backward_root)
        start = event.time_range.start
        phase = next((p for lo, hi, p in windows if lo <= start <= hi), "fwd" if root is None else "bwd")
        totals[stage_of(event, root)][phase] += time_us
    return {
        name: {**{p: t[p] / 1e3 for p in phases}, "total": sum(t.values()) / 1e3}
        for name, t in totals.items()
    }
