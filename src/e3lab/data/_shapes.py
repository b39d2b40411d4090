"""The symmetry-breaking tutorial's shape tasks: move the 4 corners of a square/rectangle, targets as
spherical signals."""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader

from e3lab.data._datasets import (
    GraphListDataset,
    RandomlyRotated,
    check_irreps,
    graph_loader,
)
from e3lab.graph import Graph
from e3lab.o3 import Irreps
from e3lab.signal import from_vectors

# x^2 - y^2 = -Y2[2]/sqrt5 - Y2[4]/sqrt15 (component normalisation), scaled to norm 0.1 as in the tutorial
X2_MINUS_Y2 = tuple(0.1 * c for c in (0.0, 0.0, -math.sqrt(3) / 2, 0.0, -0.5))
SHAPE_NAMES = ("square", "rectangle")


def square() -> torch.Tensor:
    """``[4, 3]`` corners of the unit square in the xy plane, centred at the origin."""
    corners = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    return corners - corners.mean(dim=0)


def rectangle(sx: float = 0.5, sy: float = 1.5) -> torch.Tensor:
    """``[4, 3]`` corners of the square scaled by ``(sx, sy, 0)``, centred (node order as :func:`square`)."""
    corners = square() * torch.tensor([sx, sy, 0.0])
    return corners - corners.mean(dim=0)


class ShapesDataModule(L.LightningDataModule):
    """One 4-node graph: ``start`` shape, per-node targets = signals of the displacements to ``target``.

    Node input ``x: [4, irreps_in.dim]``: 1.0 on the ``0e`` channel, then the optional breaker (the same
    ``breaker_values`` on every node, e.g. ``"1x2e"`` proportional to x^2 - y^2). Node targets
    ``[4, irreps_out.dim]`` with ``irreps_out = Irreps.spherical_harmonics(lmax, p=-1)``: ``from_vectors``
    of the displacement (peak value |d| in the direction of d). The training set repeats the graph
    ``steps_per_epoch * batch_size`` times (each copy randomly rotated with ``augment_rotations``);
    validation and test use the graph itself.
    """

    def __init__(
        self,
        start: str = "rectangle",
        target: str = "square",
        rect_sx: float = 0.5,
        rect_sy: float = 1.5,
        lmax: int = 5,
        breaker_irreps: str | None = None,
        breaker_values: list[float] | None = None,
        augment_rotations: bool = False,
        steps_per_epoch: int = 20,
        batch_size: int = 1,
        irreps_in: str | None = None,
        irreps_out: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("start", start), ("target", target)):
            if value not in SHAPE_NAMES:
                raise ValueError(f"{name}={value!r} is not a shape; choose one of {list(SHAPE_NAMES)}")
        for name, value in (("rect_sx", rect_sx), ("rect_sy", rect_sy)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name}={value!r} must be a finite number (a scale of the rectangle)")
        if steps_per_epoch < 1 or batch_size < 1:
            raise ValueError(f"steps_per_epoch={steps_per_epoch} and batch_size={batch_size} must be >= 1")
        self.breaker_irreps = Irreps(breaker_irreps) if breaker_irreps else None
        if self.breaker_irreps is not None and breaker_values is None:
            if self.breaker_irreps != Irreps("1x2e"):
                raise ValueError(f"breaker_values is needed for breaker_irreps={breaker_irreps!r}")
            breaker_values = list(X2_MINUS_Y2)
        if self.breaker_irreps is None and breaker_values is not None:
            raise ValueError(
                "breaker_values is given without breaker_irreps; set breaker_irreps, e.g. '1x2e'"
            )
        if self.breaker_irreps is not None and len(breaker_values) != self.breaker_irreps.dim:
            raise ValueError(
                f"breaker_values has {len(breaker_values)} entries but breaker_irreps={breaker_irreps!r} "
                f"has dimension {self.breaker_irreps.dim}"
            )
        self.breaker_values = breaker_values
        actual_in = Irreps("1x0e") + self.breaker_irreps if self.breaker_irreps else Irreps("1x0e")
        self.irreps_in = check_irreps("irreps_in", irreps_in, actual_in)
        self.irreps_out = check_irreps("irreps_out", irreps_out, Irreps.spherical_harmonics(lmax, p=-1))
        self._datasets: dict[str, torch.utils.data.Dataset] = {}

    def _shape(self, name: str) -> torch.Tensor:
        if name == "square":
            return square()
        return rectangle(self.hparams.rect_sx, self.hparams.rect_sy)

    def displacements(self) -> torch.Tensor:
        """``[4, 3]`` target displacement of each node."""
        return self._shape(self.hparams.target) - self._shape(self.hparams.start)

    def graph(self) -> Graph:
        """The task graph (default dtype): ``pos [4, 3]``, ``x [4, irreps_in.dim]``, ``node_target``."""
        dtype = torch.get_default_dtype()
        pos = self._shape(self.hparams.start).to(dtype)
        x = torch.ones(4, 1, dtype=dtype)
        if self.breaker_values is not None:
            x = torch.cat([x, torch.tensor(self.breaker_values, dtype=dtype).expand(4, -1)], dim=1)
        node_target = from_vectors(self.displacements().to(dtype)[:, None, :], self.hparams.lmax)
        return Graph(pos=pos, x=x, node_target=node_target)

    def setup(self, stage: str | None = None) -> None:
        graph = self.graph()
        length = self.hparams.steps_per_epoch * self.hparams.batch_size
        if self.hparams.augment_rotations:
            self._datasets["train"] = RandomlyRotated([graph], length, self.irreps_in, self.irreps_out)
        else:
            self._datasets["train"] = GraphListDataset([graph] * length)
        self._datasets["val"] = GraphListDataset([graph])
        self._datasets["test"] = GraphListDataset([graph])

    def train_dataloader(self) -> DataLoader:
        return graph_loader(self._datasets["train"], self.hparams.batch_size, shuffle=False, training=True)

    def val_dataloader(self) -> DataLoader:
        return graph_loader(self._datasets["val"], 1, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return graph_loader(self._datasets["test"], 1, shuffle=False)
