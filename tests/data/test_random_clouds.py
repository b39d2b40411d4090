"""RandomCloudsDataModule: fixed random clouds labelled by a seeded teacher network."""

from __future__ import annotations

import pytest
import torch

from e3lab.data import RandomCloudsDataModule


def _small(**kwargs: object) -> RandomCloudsDataModule:
    return RandomCloudsDataModule(num_nodes=40, train_size=2, val_size=1, test_size=1, **kwargs)


def test_shapes_and_teacher_targets() -> None:
    dm = _small()
    dm.setup("fit")
    graph = dm.train_dataloader().dataset[0]
    assert graph.pos.shape == (40, 3) and graph.x.shape == (40, dm.irreps_in.dim)
    assert graph.node_target.shape == (40, dm.irreps_out.dim)
    assert graph.pos.min() >= 0 and graph.pos.max() <= dm.box_size
    with torch.no_grad():
        assert torch.allclose(dm.teacher()(graph.x, graph.pos), graph.node_target, atol=1e-5)
    assert graph.node_target.abs().max() > 0


def test_data_are_fixed_by_the_seed() -> None:
    a, b, c = _small(), _small(), _small(teacher_seed=7)
    for dm in (a, b, c):
        dm.setup("fit")
    ga, gb, gc = (dm.train_dataloader().dataset[0] for dm in (a, b, c))
    assert torch.equal(ga.pos, gb.pos) and torch.equal(ga.node_target, gb.node_target)
    assert not torch.allclose(ga.pos, gc.pos)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_nodes=1"):
        RandomCloudsDataModule(num_nodes=1)
    with pytest.raises(ValueError, match="density=0"):
        RandomCloudsDataModule(density=0)
