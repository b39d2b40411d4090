"""NodeRegressionModule on a small random cloud."""

from __future__ import annotations

import torch

from e3lab.data import RandomCloudsDataModule
from e3lab.models import NodeRegressionModule

NET = {
    "_target_": "e3lab.nn.EquivariantConvNet",
    "irreps_in": "10x0e + 10x1e",
    "irreps_out": "20x0e + 10x1e",
    "irreps_hidden": "8x0e + 4x1e",
    "num_layers": 2,
    "lmax": 2,
    "max_radius": 1.8,
    "radial_hidden": 8,
}


def test_a_few_steps_lower_the_loss() -> None:
    dm = RandomCloudsDataModule(num_nodes=40, train_size=1, val_size=1, test_size=1)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    model = NodeRegressionModule(NET, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    optimizer = model.configure_optimizers()
    losses = []
    for _ in range(15):
        loss = model.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert torch.isfinite(model.train_r2.compute())
