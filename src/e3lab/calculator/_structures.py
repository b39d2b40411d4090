"""Starting structures for MD: an ``AtomsGraph`` back to ``ase.Atoms``, or a frame of a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from e3lab.graph import AtomsGraph

__all__ = ["atoms_from_graph", "read_structure"]


def atoms_from_graph(graph: AtomsGraph, chemical_symbols: Sequence[str]) -> Any:
    """The ``ase.Atoms`` of ``graph`` (symbols from ``chemical_symbols[species]``, positions, cell, pbc)."""
    from ase import Atoms

    symbols = [chemical_symbols[int(k)] for k in graph.species.tolist()]
    return Atoms(
        symbols=symbols,
        positions=graph.pos.detach().double().cpu().numpy(),
        cell=graph.cell.detach().double().cpu().numpy(),
        pbc=np.asarray(graph.pbc.cpu().numpy(), dtype=bool),
    )


def read_structure(path: str | Path, index: int = 0) -> Any:
    """Frame ``index`` of an ASE-readable file (extxyz, .traj, .db, CIF, POSCAR, ...), without its calculator.

    Raises FileNotFoundError for a missing file and ValueError when ASE cannot read it or the index is
    out of range.
    """
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"structure file {str(path)!r} does not exist; give structure=test or a file path"
        )
    try:
        frames = ase.io.read(path, index=":")
    except Exception as err:  # ASE raises many kinds (parse errors, unknown format, ...)
        raise ValueError(f"ase.io.read could not read {str(path)!r} ({type(err).__name__}: {err})") from err
    frames = frames if isinstance(frames, list) else [frames]
    if not -len(frames) <= index < len(frames):
        raise ValueError(
            f"structure_index={index} is out of range: {str(path)!r} holds {len(frames)} frame(s)"
        )
    atoms = frames[index].copy()
    atoms.calc = None
    return atoms
