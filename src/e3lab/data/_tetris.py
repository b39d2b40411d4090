"""e3nn's tetris: classify 8 shapes of 4 points under rotations (and mirrors)."""

from __future__ import annotations

import torch

from e3lab.data._base import GraphSplitsDataModule
from e3lab.data._datasets import GraphListDataset, RandomlyRotated, check_irreps, rotate_graph
from e3lab.graph import Graph
from e3lab.o3 import Irreps, rand_matrix

TETRIS_SHAPES: dict[str, list[list[float]]] = {
    "chiral_1": [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0]],
    "chiral_2": [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, -1, 0]],
    "square": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]],
    "line": [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3]],
    "corner": [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]],
    "L": [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0]],
    "T": [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 1]],
    "zigzag": [[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 1, 0]],
}
CLASS_NAMES = tuple(TETRIS_SHAPES)
# the class a shape becomes under a mirror (only the chiral pair swaps)
MIRROR_CLASS = (1, 0, 2, 3, 4, 5, 6, 7)


def tetris_graphs() -> list[Graph]:
    """The 8 shapes (default dtype, centred), ``x = 1`` on ``1x0e``, ``graph_target`` = class index."""
    dtype = torch.get_default_dtype()
    graphs = []
    for label, points in enumerate(TETRIS_SHAPES.values()):
        pos = torch.tensor(points, dtype=dtype)
        graphs.append(
            Graph(
                pos=pos - pos.mean(dim=0),
                x=torch.ones(len(points), 1, dtype=dtype),
                graph_target=torch.tensor(label),
            )
        )
    return graphs


def transformed_set(graphs: list[Graph], size: int, mirror: bool, generator: torch.Generator) -> list[Graph]:
    """``size`` graphs cycling through ``graphs``, each randomly rotated (from ``generator``).

    With ``mirror`` every second pass through ``graphs`` is also inverted (``pos -> -pos``) and
    relabelled with :data:`MIRROR_CLASS` (a mirrored chiral_1 is a chiral_2).
    """
    irreps_in = Irreps("1x0e")
    out = []
    for i in range(size):
        graph = graphs[i % len(graphs)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (), generator=generator)))
            R = rand_matrix(dtype=graph.pos.dtype)
        label = int(graph.graph_target)
        if mirror and (i // len(graphs)) % 2 == 1:
            R = -R
            label = MIRROR_CLASS[label]
        rotated = rotate_graph(graph, R, irreps_in, None)
        out.append(Graph(pos=rotated.pos, x=rotated.x, graph_target=torch.tensor(label)))
    return out


class TetrisDataModule(GraphSplitsDataModule):
    """Tetris classification; batches are ``GraphBatch`` with ``graph_target [num_graphs]`` (class index).

    Train: ``train_size`` shapes, freshly rotated at every access with ``augment_rotations``. Validation:
    ``val_size`` fixed random rotations. Test: ``test_size`` fixed random rotations, every second pass
    through the 8 shapes mirrored. The rotations are drawn from ``seed``.
    """

    num_classes = len(CLASS_NAMES)

    def __init__(
        self,
        train_size: int = 64,
        val_size: int = 32,
        test_size: int = 64,
        batch_size: int = 16,
        augment_rotations: bool = True,
        seed: int = 0,
        irreps_in: str | None = None,
        irreps_out: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("train_size", train_size), ("val_size", val_size), ("test_size", test_size)):
            if value < 1:
                raise ValueError(f"{name}={value} must be >= 1")
        self.irreps_in = check_irreps("irreps_in", irreps_in, Irreps("1x0e"))
        self.irreps_out = check_irreps("irreps_out", irreps_out, Irreps("1x0o + 6x0e"))

    def setup(self, stage: str | None = None) -> None:
        graphs = tetris_graphs()
        generator = torch.Generator().manual_seed(self.hparams.seed)
        if self.hparams.augment_rotations:
            self._datasets["train"] = RandomlyRotated(graphs, self.hparams.train_size, self.irreps_in, None)
        else:
            size = self.hparams.train_size
            self._datasets["train"] = GraphListDataset([graphs[i % len(graphs)] for i in range(size)])
        self._datasets["val"] = GraphListDataset(
            transformed_set(graphs, self.hparams.val_size, mirror=False, generator=generator)
        )
        self._datasets["test"] = GraphListDataset(
            transformed_set(graphs, self.hparams.test_size, mirror=True, generator=generator)
        )
