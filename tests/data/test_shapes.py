"""ShapesDataModule: geometry, signal targets, breaker, augmentation, irreps checks."""

from __future__ import annotations

import pytest
import torch

from e3lab.data import ShapesDataModule, rectangle, square
from e3lab.graph import GraphBatch
from e3lab.o3 import Irreps, spherical_harmonics
from e3lab.signal import find_peaks


def test_irreps_and_batches() -> None:
    dm = ShapesDataModule(steps_per_epoch=3)
    assert dm.irreps_in == Irreps("1x0e")
    assert dm.irreps_out == Irreps.spherical_harmonics(5, p=-1)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 3
    batch = batches[0]
    assert isinstance(batch, GraphBatch)
    assert batch.x.shape == (4, 1) and torch.all(batch.x == 1.0)
    assert batch.node_target.shape == (4, 36)
    assert torch.allclose(batch.pos, rectangle())


@pytest.mark.parametrize(("start", "target"), [("rectangle", "square"), ("square", "rectangle")])
def test_target_peaks_at_displacement(float64: None, start: str, target: str) -> None:
    """Each node's target signal has one peak, at the displacement vector (value = its length)."""
    dm = ShapesDataModule(start=start, target=target)
    graph = dm.graph()
    peaks = find_peaks(graph.node_target)
    expected = {"square": square(), "rectangle": rectangle()}
    displacement = expected[target] - expected[start]
    for node_peaks, d in zip(peaks, displacement, strict=True):
        assert node_peaks.shape == (1, 3)
        assert torch.allclose(node_peaks[0], d, atol=1e-6)


def test_breaker_is_x2_minus_y2(float64: None) -> None:
    """The default l=2 breaker (norm 0.1), read as a component-normalised signal, is prop. to x^2 - y^2."""
    dm = ShapesDataModule(start="square", target="rectangle", breaker_irreps="1x2e")
    assert dm.irreps_in == Irreps("1x0e + 1x2e")
    breaker = dm.graph().x[0, 1:]
    assert torch.allclose(breaker.norm(), torch.tensor(0.1))
    v = torch.randn(100, 3)
    v = v / v.norm(dim=1, keepdim=True)
    values = spherical_harmonics(2, v, normalize=True, normalization="component") @ breaker
    ratio = values / (v[:, 0] ** 2 - v[:, 1] ** 2)
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-10)
    assert ratio[0] > 0


def test_augmentation_rotates_everything(float64: None) -> None:
    """A rotated training copy is the rotated task: targets peak at the rotated displacements."""
    dm = ShapesDataModule(start="square", target="rectangle", breaker_irreps="1x2e", augment_rotations=True)
    dm.setup("fit")
    graph = dm.train_dataloader().dataset[0]
    reference = dm.graph()
    # recover the rotation from the positions (the square spans the xy plane; add the normal)
    a, b = reference.pos[:2], graph.pos[:2]
    frame = torch.stack([a[0], a[1], torch.linalg.cross(a[0], a[1])], dim=1)
    frame2 = torch.stack([b[0], b[1], torch.linalg.cross(b[0], b[1])], dim=1)
    R = frame2 @ torch.linalg.inv(frame)
    assert torch.allclose(graph.pos, reference.pos @ R.T, atol=1e-12)
    assert torch.allclose(graph.x, reference.x @ dm.irreps_in.D_from_matrix(R).T, atol=1e-12)
    peaks = find_peaks(graph.node_target)
    displacement = (rectangle() - square()) @ R.T
    for node_peaks, d in zip(peaks, displacement, strict=True):
        assert torch.allclose(node_peaks[0], d, atol=1e-6)


def test_config_irreps_must_match() -> None:
    with pytest.raises(ValueError, match=r"irreps_in='1x0e'.*1x0e\+1x2e"):
        ShapesDataModule(breaker_irreps="1x2e", irreps_in="1x0e")
    with pytest.raises(ValueError, match="irreps_out"):
        ShapesDataModule(lmax=3, irreps_out="1x0e + 1x1o")
    ShapesDataModule(lmax=2, irreps_out="1x0e + 1x1o + 1x2e")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="'circle' is not a shape"):
        ShapesDataModule(start="circle")
    with pytest.raises(ValueError, match="breaker_values has 2 entries"):
        ShapesDataModule(breaker_irreps="1x2e", breaker_values=[0.1, 0.2])
    with pytest.raises(ValueError, match="without breaker_irreps"):
        ShapesDataModule(breaker_values=[0.1])
