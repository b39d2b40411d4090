"""GraphClassificationModule: parity-correct logits, invariance, mirror swaps the chiral pair."""

from __future__ import annotations

import pytest
import torch

from e3lab.data import MIRROR_CLASS, tetris_graphs
from e3lab.graph import collate_graphs
from e3lab.models import GraphClassificationModule, logits_from_pooled, num_classes
from e3lab.o3 import Irreps, rand_matrix

NET = {
    "_target_": "e3lab.nn.EquivariantConvNet",
    "irreps_in": "1x0e",
    "irreps_out": "1x0o + 6x0e",
    "irreps_hidden": "4x0e + 4x0o + 2x1e + 2x1o",
    "num_layers": 3,  # a pseudoscalar from distances and directions needs three convolutions
    "lmax": 2,
    "max_radius": 1.1,
    "radial_hidden": 8,
}


def test_logits_from_pooled() -> None:
    irreps = Irreps("1x0o + 6x0e")
    assert num_classes(irreps) == 8
    pooled = torch.randn(3, 7)
    logits = logits_from_pooled(pooled, irreps)
    mirrored = logits_from_pooled(pooled * torch.tensor([-1.0] + [1.0] * 6), irreps)
    assert torch.equal(logits[:, list(MIRROR_CLASS)], mirrored)
    assert torch.equal(logits_from_pooled(pooled, Irreps("7x0e")), pooled)
    with pytest.raises(ValueError, match="cannot be turned into logits"):
        logits_from_pooled(torch.randn(3, 3), Irreps("1x1o"))


def test_logits_are_invariant_and_mirror_swaps_the_chiral_pair(float64: None) -> None:
    model = GraphClassificationModule(NET).eval()
    graphs = tetris_graphs()
    batch = collate_graphs(graphs)
    R = rand_matrix()
    with torch.no_grad():
        logits = model(batch)
        rotated = model(collate_graphs([type(g)(pos=g.pos @ R.T, x=g.x) for g in graphs]))
        mirrored = model(collate_graphs([type(g)(pos=-g.pos @ R.T, x=g.x) for g in graphs]))
    assert (rotated - logits).abs().max() < 1e-10
    assert (mirrored - logits[:, list(MIRROR_CLASS)]).abs().max() < 1e-10
    # the chiral pair is separable: the odd scalar is not identically zero on chiral_1
    assert (logits[0, 0] - logits[0, 1]).abs() > 1e-6


def test_training_step_logs_accuracy() -> None:
    model = GraphClassificationModule(NET)
    batch = collate_graphs(tetris_graphs())
    loss = model.training_step(batch, 0)
    assert loss.ndim == 0 and loss > 0
    assert model.train_acc.compute() >= 0
