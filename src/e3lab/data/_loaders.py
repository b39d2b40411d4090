"""Data loaders that resume mid-epoch, shard for DDP without padding evaluation sets, and make each batch's
random augmentation a function of (seed, epoch, rank, batch) rather than of the global random stream.

- :class:`EpochSampler`: the indices of one rank for one epoch. Training: a permutation drawn from
  ``(seed, epoch)``, padded (by repeating indices, as ``DistributedSampler``) so every rank takes the same
  number of steps. Evaluation: ``range(len)`` split across ranks with no padding, so DDP val/test metrics
  cover every item exactly once. It subclasses ``DistributedSampler`` so that Lightning keeps it instead
  of wrapping the loader in its own (padding) sampler.
- :class:`ResumableLoader`: a ``DataLoader`` with Lightning's ``state_dict`` / ``load_state_dict``
  protocol: a checkpoint records the epoch and the batches already taken, and a resumed run skips them.
  Each batch is fetched under ``torch.random.fork_rng`` seeded from ``(seed, epoch, rank, batch)``, so
  random augmentations are the same whether or not the run was interrupted, and fetching a batch leaves
  the global random stream (dropout, the model's own draws) untouched.

Hand-written: Lightning's ``DistributedSampler`` pads evaluation sets and its loaders restart an
interrupted epoch from the beginning.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["EpochSampler", "ResumableLoader", "distributed_rank", "run_seed"]


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless a process group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def run_seed() -> int:
    """The run's seed: the one ``lightning.seed_everything`` recorded in ``PL_GLOBAL_SEED``, else 0."""
    return int(os.environ.get("PL_GLOBAL_SEED", "0"))


def _mix(*values: int) -> int:
    """A 62-bit seed from integers (splitmix64 steps: nearby inputs give unrelated seeds)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        state ^= state >> 31
    return state & ((1 << 62) - 1)


class EpochSampler(DistributedSampler):
    """Indices of rank ``rank`` of ``num_replicas`` for the current epoch (see the module docstring).

    Args:
        dataset: the map-style dataset (only its length is used).
        shuffle: a fresh permutation per epoch from ``(seed, epoch)``; else ``range(len)``.
        pad: training: repeat indices (as ``DistributedSampler``) so every rank gets the same number,
            hence takes the same number of steps. ``False`` (evaluation): each index once across ranks,
            strided, so ranks may differ by one item.
        seed: the permutation seed.
        num_replicas, rank: the DDP layout; default :func:`distributed_rank`.

    ``skip(epoch, count)`` makes the next iteration over ``epoch`` start after its first ``count`` indices.
    """

    def __init__(
        self,
        dataset: Dataset,
        shuffle: bool,
        pad: bool,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        default_rank, default_world = distributed_rank()
        num_replicas = default_world if num_replicas is None else num_replicas
        rank = default_rank if rank is None else rank
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        size = len(dataset)  # type: ignore[arg-type]
        if not pad and 0 < size < num_replicas:
            # a rank with no item would skip the evaluation loop and hang the others' metric reduction
            warnings.warn(
                f"{size} evaluation item(s) for {num_replicas} DDP ranks: padded by repetition, so the DDP "
                "metrics count some items twice; use a set of at least one item per rank",
                stacklevel=2,
            )
            pad = True
        self.pad = pad
        if pad:
            self.num_samples = math.ceil(size / num_replicas)
        else:
            self.num_samples = len(range(rank, size, num_replicas))
        self.total_size = self.num_samples * num_replicas if pad else size
        self._skip: tuple[int, int] | None = None

    def skip(self, epoch: int, count: int) -> None:
        """Start the next pass over ``epoch`` after its first ``count`` indices (mid-epoch resume)."""
        self._skip = (epoch, count)

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            generator = torch.Generator().manual_seed(_mix(self.seed, self.epoch))
            order = torch.randperm(size, generator=generator).tolist()
        else:
            order = list(range(size))
        if self.total_size > size:
            order += (order * math.ceil(self.total_size / max(size, 1)))[: self.total_size - size]
        mine = order[self.rank : self.total_size : self.num_replicas]
        if self._skip is not None:
            epoch, count = self._skip
            self._skip = None
            if epoch == self.epoch:
                mine = mine[count:]
        return iter(mine)

    def __len__(self) -> int:
        return self.num_samples


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over an :class:`EpochSampler` that Lightning can checkpoint and resume mid-epoch.

    Args:
        dataset: map-style dataset.
        batch_size: items per batch.
        sampler: the :class:`EpochSampler` (Lightning may swap in another one, e.g. for
            ``overfit_batches``; then the loader is an ordinary ``DataLoader``).
        collate_fn: list of items -> batch.
        seed: seeds each batch's random draws together with the epoch, rank and batch number.
        **kwargs: other ``DataLoader`` arguments.

    Fetching happens in this process (``num_workers=0``, e3lab's default); with worker processes the
    per-batch seeding does not reach the workers and augmentations are not reproduced on resume.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        sampler: Any,
        collate_fn: Callable[[list[Any]], Any],
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        # a private generator: DataLoader draws a base seed per iterator, which must not consume the
        # global random stream (a resumed run creates one more iterator than an uninterrupted one)
        kwargs.setdefault("generator", torch.Generator().manual_seed(_mix(seed, 1)))
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, **kwargs)
        self.seed = seed
        self._batches_taken = 0
        self._resume: tuple[int, int] | None = None
        self._batches_done: Callable[[], int] | None = None

    def count_batches_with(self, batches_done: Callable[[], int] | None) -> None:
        """Let ``batches_done()`` say how many batches of the current pass are finished (the trainer's
        progress): a checkpoint taken inside a step then resumes with that step's batch again. Without it,
        every batch handed out counts as done."""
        self._batches_done = batches_done

    def __iter__(self) -> Iterator[Any]:
        epoch = int(getattr(self.sampler, "epoch", 0))
        rank = int(getattr(self.sampler, "rank", 0))
        resume, self._resume = self._resume, None
        number = resume[1] if resume is not None and resume[0] == epoch else 0
        self._batches_taken = number
        iterator = super().__iter__()
        while True:
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(_mix(self.seed, epoch, rank, number))
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
            number += 1
            self._batches_taken = number
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Where the current pass stands: ``{"epoch", "batches"}`` (batches finished so far)."""
        done = (
            self._batches_taken
            if self._batches_done is None
            else min(self._batches_done(), self._batches_taken)
        )
        return {"epoch": int(getattr(self.sampler, "epoch", 0)), "batches": done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next pass over ``state["epoch"]`` skip the ``state["batches"]`` batches already used."""
        if not isinstance(self.sampler, EpochSampler) or self.batch_size is None:
            return
        epoch, batches = int(state["epoch"]), int(state["batches"])
        self.sampler.set_epoch(epoch)
        self.sampler.skip(epoch, batches * self.batch_size)
        self._resume = (epoch, batches)
