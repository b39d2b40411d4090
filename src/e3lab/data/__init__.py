"""LightningDataModules of geometric graphs; batches are ``e3lab.graph.GraphBatch``.

Atoms (interatomic potentials): ``AtomsDataModule`` (any ASE-readable file; batches are
``e3lab.graph.AtomsBatch``), ``atoms_graph_from_ase`` (one ``ase.Atoms`` to an ``AtomsGraph``),
``atoms_statistics``, and the EMT data sets ``generate_emt`` / ``nequip_toy_cu``.

Each DataModule declares ``irreps_in`` / ``irreps_out`` (attributes, also in its config) for the model.
"""

from e3lab.data._atoms_datamodule import AtomsDataModule
from e3lab.data._atoms_io import atoms_graph_from_ase, read_ase_file
from e3lab.data._atoms_statistics import atoms_statistics
from e3lab.data._emt import EMT_ELEMENTS, generate_emt, nequip_toy_cu
from e3lab.data._random_clouds import RandomCloudsDataModule
from e3lab.data._shapes import X2_MINUS_Y2, ShapesDataModule, rectangle, square
from e3lab.data._tetris import CLASS_NAMES, MIRROR_CLASS, TETRIS_SHAPES, TetrisDataModule, tetris_graphs

__all__ = [
    "CLASS_NAMES",
    "EMT_ELEMENTS",
    "MIRROR_CLASS",
    "TETRIS_SHAPES",
    "X2_MINUS_Y2",
    "AtomsDataModule",
    "RandomCloudsDataModule",
    "ShapesDataModule",
    "TetrisDataModule",
    "atoms_graph_from_ase",
    "atoms_statistics",
    "generate_emt",
    "nequip_toy_cu",
    "read_ase_file",
    "rectangle",
    "square",
    "tetris_graphs",
]
