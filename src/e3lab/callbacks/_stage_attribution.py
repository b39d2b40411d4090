"""Attribute profiled time to the named stages of a network, forward and backward separately."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch.autograd import DeviceType

from e3lab.nn import STAGES

__all__ = ["BACKWARD_PREFIX", "OTHER", "attribute_stages"]

BACKWARD_PREFIX = "autograd::engine::evaluate_function: "
OTHER = "other"


def attribute_stages(
    profiler_events: Iterable[Any],
    stages: Sequence[str] | None = None,
    use_device_time: bool | None = None,
) -> dict[str, dict[str, float]]:
    """Split profiled time between ``stages`` (``record_function`` range names) and ``"other"``.

    Args:
        profiler_events: ``torch.profiler.profile(...).events()`` of a forward and a backward pass.
        stages: the range names; ``e3lab.nn.STAGES`` by default.
        use_device_time: attribute the device (CUDA) kernel time launched by each op instead of its
            CPU time; by default, whenever the events carry any device time.

    Returns:
        ``{stage: {"fwd": ms, "bwd": ms, "total": ms}}`` for every stage, then ``"other"``.

    Each CPU op contributes its *self* time, so nothing is counted twice. Forward: an op belongs to
    the innermost enclosing stage range (or ``"other"``). Backward: autograd runs outside those
    ranges, so every op under an ``autograd::engine::evaluate_function: XBackward0`` event is charged
    to the stage of the forward op that created ``XBackward0``; the two share the autograd sequence
    number (keyed by the forward thread). When several forward ops carry that number, the last one
    to start is the node's creator. Unmatched backward work (gradient accumulation) is ``"other"``.
    """
    stages = tuple(STAGES) if stages is None else tuple(stages)
    if OTHER in stages:
        raise ValueError(f"stages={stages!r} must not contain the reserved name {OTHER!r}")
    events = [e for e in profiler_events if e.device_type == DeviceType.CPU]
    if use_device_time is None:
        use_device_time = any(e.self_device_time_total > 0 for e in events)
    stage_set = set(stages)

    def nearest(event: Any, accept: Any) -> Any:
        while event is not None and not accept(event):
            event = event.cpu_parent
        return event

    def is_backward_root(event: Any) -> bool:
        return event.name.startswith(BACKWARD_PREFIX)

    def is_stage(event: Any) -> bool:
        return event.name in stage_set

    creators: dict[tuple[int, int], tuple[float, str]] = {}  # (thread, seq) -> (start, stage)
    for event in events:
        if event.sequence_nr < 0 or nearest(event, is_backward_root) is not None:
            continue
        stage = getattr(nearest(event, is_stage), "name", OTHER)
        key = (event.thread, event.sequence_nr)
        start = event.time_range.start
        if key not in creators or start >= creators[key][0]:
            creators[key] = (start, stage)

    totals = {name: {"fwd": 0.0, "bwd": 0.0} for name in (*stages, OTHER)}
    for event in events:
        time_us = event.self_device_time_total if use_device_time else event.self_cpu_time_total
        root = nearest(event, is_backward_root)
        if root is None:
            totals[getattr(nearest(event, is_stage), "name", OTHER)]["fwd"] += time_us
        else:
            totals[creators.get((root.fwd_thread, root.sequence_nr), (0.0, OTHER))[1]]["bwd"] += time_us
    return {
        name: {"fwd": t["fwd"] / 1e3, "bwd": t["bwd"] / 1e3, "total": (t["fwd"] + t["bwd"]) / 1e3}
        for name, t in totals.items()
    }
