"""LightningDataModules of geometric graphs; batches are ``e3lab.graph.GraphBatch``.

Each DataModule declares ``irreps_in`` / ``irreps_out`` (attributes, also in its config) for the model.
"""

from e3lab.data._random_clouds import RandomCloudsDataModule
from e3lab.data._shapes import X2_MINUS_Y2, ShapesDataModule, rectangle, square
from e3lab.data._tetris import CLASS_NAMES, MIRROR_CLASS, TETRIS_SHAPES, TetrisDataModule, tetris_graphs

__all__ = [
    "CLASS_NAMES",
    "MIRROR_CLASS",
    "TETRIS_SHAPES",
    "X2_MINUS_Y2",
    "RandomCloudsDataModule",
    "ShapesDataModule",
    "TetrisDataModule",
    "rectangle",
    "square",
    "tetris_graphs",
]
