"""Exponential moving average of a network's weights, with the warm-up that keeps short runs usable."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim.swa_utils import AveragedModel


def ema_update(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor | int], None]:
    """``multi_avg_fn`` of :class:`~torch.optim.swa_utils.AveragedModel`: ``avg <- d avg + (1 - d) w``.

    The decay after ``n`` updates is ``min(decay, (1 + n) / (10 + n))``: the average follows the weights
    closely at first, when the early weights are poor, and reaches ``decay`` after ``~10 / (1 - decay)``
    updates (TensorFlow's ``num_updates`` rule, used by NequIP). ``AveragedModel`` copies the weights at
    the first update itself.
    """

    def update(
        averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor | int
    ) -> None:
        n = int(num_averaged)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        for avg, now in zip(averaged, current, strict=True):
            avg.lerp_(now.to(avg), weight)

    return update


def weight_average(net: torch.nn.Module, decay: float) -> AveragedModel:
    """An ``AveragedModel`` of ``net`` (a frozen copy), updated by :func:`ema_update`.

    Its state (``module.*`` weights and ``n_averaged``) is part of the owner's ``state_dict``, so checkpoints
    carry it and a resume restores it exactly.
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(
            f"ema_decay={decay!r} must be in (0, 1), e.g. 0.999; use None or 0 to turn the EMA off"
        )
    average = AveragedModel(net, multi_avg_fn=ema_update(decay))
    average.requires_grad_(False)
    return average
