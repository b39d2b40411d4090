"""EpochSampler and ResumableLoader: unpadded DDP evaluation shards, seeded orders, mid-epoch resume."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DistributedSampler

from e3lab.data._loaders import EpochSampler, ResumableLoader


class RandomItems(torch.utils.data.Dataset):
    """Item i is ``(i, a random number)``: the number comes from the global random stream at access."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> tuple[int, float]:
        return index, float(torch.rand(()))


def collate(items: list) -> list:
    return items


@pytest.mark.parametrize("size", [7, 9, 10])
def test_evaluation_shards_cover_every_item_once(size: int) -> None:
    shards = [
        list(EpochSampler(range(size), shuffle=False, pad=False, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert sorted(shards[0] + shards[1]) == list(range(size))  # DistributedSampler would repeat one
    assert [len(s) for s in shards] == [len(EpochSampler(range(size), False, False, 0, 2, r)) for r in (0, 1)]
    assert isinstance(EpochSampler(range(size), False, False), DistributedSampler)  # Lightning keeps it


def test_training_order_is_seeded_per_epoch_and_padded_across_ranks() -> None:
    sampler = EpochSampler(range(7), shuffle=True, pad=True, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(7)) and list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(EpochSampler(range(7), shuffle=True, pad=True, seed=4)) != first
    shards = [list(EpochSampler(range(7), True, True, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 4 and set(shards[0] + shards[1]) == set(range(7))


def test_a_resumed_loader_continues_mid_epoch_with_the_same_batches_and_draws() -> None:
    def loader() -> ResumableLoader:
        return ResumableLoader(
            RandomItems(), 3, EpochSampler(RandomItems(), True, True, seed=5), collate, seed=5
        )

    torch.manual_seed(0)
    uninterrupted = loader()
    uninterrupted.sampler.set_epoch(2)
    whole = list(uninterrupted)
    assert len(whole) == 4

    torch.manual_seed(1)  # the global stream differs: per-batch seeds make the items the same anyway
    interrupted = loader()
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    taken = [next(iterator), next(iterator)]
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "batches": 2}

    resumed = loader()
    resumed.load_state_dict(state)
    assert taken + list(resumed) == whole
    assert list(resumed) == whole  # the next pass is a whole epoch again


def test_fetching_leaves_the_global_random_stream_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    list(ResumableLoader(RandomItems(), 4, EpochSampler(RandomItems(), True, True), collate))
    assert torch.equal(torch.rand(3), expected)
