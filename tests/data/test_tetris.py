"""TetrisDataModule: the 8 shapes, rotations, and mirrored test shapes relabelled."""

from __future__ import annotations

import pytest
import torch

from e3lab.data import CLASS_NAMES, TETRIS_SHAPES, TetrisDataModule
from e3lab.graph import GraphBatch


def _signed_volume(pos: torch.Tensor) -> torch.Tensor:
    """det[p1 - p0, p2 - p0, p3 - p0]: invariant under rotations, flips sign under mirrors."""
    return torch.det(pos[1:] - pos[0])


def _distances(pos: torch.Tensor) -> torch.Tensor:
    return torch.cdist(pos, pos).flatten().sort().values


def test_classes_and_batches() -> None:
    dm = TetrisDataModule(train_size=16, batch_size=8)
    assert len(CLASS_NAMES) == 8 == dm.num_classes
    assert str(dm.irreps_out) == "1x0o+6x0e"
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, GraphBatch)
    assert batch.num_graphs == 8 and batch.graph_target.shape == (8,)
    assert batch.x.shape == (32, 1)


def test_test_set_is_rotated_and_mirrored(float64: None) -> None:
    """Test shapes are congruent to their class's shape; chiral classes follow the handedness."""
    dm = TetrisDataModule(test_size=32)
    dm.setup("test")
    canonical = {i: torch.tensor(p, dtype=torch.float64) for i, p in enumerate(TETRIS_SHAPES.values())}
    mirrored = 0
    for graph in dm.test_dataloader().dataset:
        label = int(graph.graph_target)
        assert torch.allclose(_distances(graph.pos), _distances(canonical[label]), atol=1e-10)
        if label in (0, 1):
            volume = _signed_volume(graph.pos)
            assert torch.sign(volume) == torch.sign(_signed_volume(canonical[label]))
        # positions no longer those of the canonical shape (rotated)
        assert not torch.allclose(graph.pos, canonical[label] - canonical[label].mean(0), atol=1e-3)
        # a mirrored corner (the one non-planar achiral shape) has the opposite signed volume
        mirrored += int(label == 4 and (_signed_volume(graph.pos) - _signed_volume(canonical[4])).abs() > 0.5)
    assert mirrored > 0


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="val_size=0"):
        TetrisDataModule(val_size=0)
