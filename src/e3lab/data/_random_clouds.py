"""The convolution guide's random point clouds, with node targets from a fixed random teacher network."""

from __future__ import annotations

import math

import torch

from e3lab.data._base import GraphSplitsDataModule
from e3lab.data._datasets import GraphListDataset, check_irreps
from e3lab.graph import Graph
from e3lab.nn import EquivariantConvNet
from e3lab.o3 import Irreps


class RandomCloudsDataModule(GraphSplitsDataModule):
    """Node regression on random clouds of ``num_nodes`` points (uniform in a cube of density ``density``).

    Inputs ``x: [N, irreps_in.dim]`` are ``irreps_in.randn``; targets ``node_target: [N, irreps_out.dim]``
    are the outputs of a teacher ``EquivariantConvNet`` with weights drawn from ``teacher_seed`` (so the
    task is learnable and equivariant). All graphs are drawn from ``teacher_seed`` too: the data are fixed.
    """

    def __init__(
        self,
        num_nodes: int = 1000,
        density: float = 1.0,
        max_radius: float = 1.8,
        train_size: int = 8,
        val_size: int = 2,
        test_size: int = 2,
        batch_size: int = 1,
        teacher_seed: int = 1234,
        teacher_hidden: str = "16x0e + 8x1e",
        teacher_layers: int = 2,
        irreps_in: str = "10x0e + 10x1e",
        irreps_out: str = "20x0e + 10x1e",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if num_nodes < 2:
            raise ValueError(f"num_nodes={num_nodes} must be >= 2")
        if density <= 0 or max_radius <= 0:
            raise ValueError(f"density={density} and max_radius={max_radius} must be > 0")
        self.irreps_in = check_irreps("irreps_in", irreps_in, Irreps(irreps_in))
        self.irreps_out = check_irreps("irreps_out", irreps_out, Irreps(irreps_out))

    @property
    def box_size(self) -> float:
        """Side of the cube holding the points."""
        return (self.hparams.num_nodes / self.hparams.density) ** (1 / 3)

    @property
    def expected_neighbors(self) -> float:
        """Mean number of neighbours within ``max_radius`` (ignoring the cube's boundary)."""
        return self.hparams.density * 4 / 3 * math.pi * self.hparams.max_radius**3

    def teacher(self) -> EquivariantConvNet:
        """The fixed random teacher network (weights from ``teacher_seed``)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.hparams.teacher_seed)
            return EquivariantConvNet(
                self.irreps_in,
                self.hparams.teacher_hidden,
                self.irreps_out,
                num_layers=self.hparams.teacher_layers,
                lmax=2,
                max_radius=self.hparams.max_radius,
                num_neighbors=self.expected_neighbors,
            )

    @torch.no_grad()
    def make_graphs(self, count: int, generator: torch.Generator, teacher: EquivariantConvNet) -> list[Graph]:
        """``count`` random clouds labelled by ``teacher``."""
        dtype = torch.get_default_dtype()
        n = self.hparams.num_nodes
        graphs = []
        for _ in range(count):
            pos = torch.rand(n, 3, generator=generator, dtype=dtype) * self.box_size
            x = torch.randn(n, self.irreps_in.dim, generator=generator, dtype=dtype)
            graphs.append(Graph(pos=pos, x=x, node_target=teacher(x, pos)))
        return graphs

    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        teacher = self.teacher()
        generator = torch.Generator().manual_seed(self.hparams.teacher_seed)
        for split in ("train", "val", "test"):
            count = self.hparams[f"{split}_size"]
            self._datasets[split] = GraphListDataset(self.make_graphs(count, generator, teacher))
