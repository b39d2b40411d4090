"""ASE structures to ``AtomsGraph``: species, cell, neighbour list and targets, with clear errors.

Targets are looked up by key, first in ``atoms.info`` (per-structure values) and ``atoms.arrays``
(per-atom values), then in the results of an attached calculator (``SinglePointCalculator``: what
``ase.io.read`` attaches for ``energy`` / ``forces`` / ``stress`` of an extxyz file). A key set to None
means "no such target".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from e3lab.graph import AtomsGraph, neighbor_list

__all__ = ["MIN_DISTANCE", "atoms_graph_from_ase", "read_ase_file"]

# atoms closer than this (A) are almost surely a broken structure: warned about, with the frame
MIN_DISTANCE = 0.1


def read_ase_file(path: str | Path) -> list[Any]:
    """Every frame of ``path`` as ``ase.Atoms`` (``ase.io.read(path, index=":")``: extxyz, .db, .traj, ...).

    Raises FileNotFoundError for a missing file and ValueError (with the reader's message) for a file
    ASE cannot read or that holds no structure.
    """
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist; check data.file_path")
    try:
        frames = ase.io.read(path, index=":")
    except Exception as err:  # ASE raises many kinds (parse errors, unknown format, StopIteration...)
        raise ValueError(
            f"ase.io.read could not read {str(path)!r} ({type(err).__name__}: {err}); give a file ASE "
            "reads (extxyz, .db, .traj, ...) with a recognisable extension"
        ) from err
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise ValueError(f"{str(path)!r} holds no structure; check the file")
    return frames


def _lookup(atoms: Any, key: str) -> Any | None:
    if key in atoms.info:
        return atoms.info[key]
    if key in atoms.arrays:
        return atoms.arrays[key]
    results = getattr(atoms.calc, "results", None) or {}
    return results.get(key)


def _available_keys(atoms: Any) -> str:
    results = getattr(atoms.calc, "results", None) or {}
    arrays = sorted(k for k in atoms.arrays if k not in ("numbers", "positions"))
    return f"info: {sorted(atoms.info)}, arrays: {arrays}, calculator: {sorted(results)}"


def _finite(name: str, value: np.ndarray, where: str) -> None:
    if not np.isfinite(value).all():
        raise ValueError(f"{where}{name} contains NaN or Inf; fix or drop this structure")


def _energy(atoms: Any, key: str, where: str) -> torch.Tensor:
    value = _lookup(atoms, key)
    if value is None:
        raise ValueError(
            f"{where}no energy under energy_key={key!r}; keys present: {_available_keys(atoms)}; set "
            "energy_key to the right one (or null for no energy target)"
        )
    array = np.asarray(value, dtype=np.float64)
    if array.size != 1:
        raise ValueError(f"{where}energy {key!r} has shape {array.shape}, expected one number")
    _finite("energy", array, where)
    return torch.tensor(float(array.reshape(())), dtype=torch.float64)


def _forces(atoms: Any, key: str, where: str) -> torch.Tensor:
    value = _lookup(atoms, key)
    if value is None:
        raise ValueError(
            f"{where}no forces under forces_key={key!r}; keys present: {_available_keys(atoms)}; set "
            "forces_key to the right one (or null for no force target)"
        )
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (len(atoms), 3):
        raise ValueError(
            f"{where}forces {key!r} have shape {array.shape}, expected ({len(atoms)}, 3): one vector per atom"
        )
    _finite("forces", array, where)
    return torch.from_numpy(array)


def _stress(atoms: Any, key: str, where: str) -> torch.Tensor | None:
    """[3, 3] stress from Voigt (xx, yy, zz, yz, xz, xy), 9 numbers or 3x3; None when absent."""
    value = _lookup(atoms, key)
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.shape == (6,):
        xx, yy, zz, yz, xz, xy = array
        array = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    elif array.shape in ((9,), (3, 3)):
        array = array.reshape(3, 3)
    else:
        raise ValueError(
            f"{where}stress {key!r} has shape {array.shape}, expected 6 (Voigt: xx yy zz yz xz xy), 9 or 3x3"
        )
    _finite("stress", array, where)
    if not atoms.pbc.all() or abs(np.linalg.det(atoms.cell.array)) < 1e-12:
        warnings.warn(
            f"{where}a stress is given but the structure is not periodic in 3D (pbc={atoms.pbc.tolist()}); "
            "stress is ignored for it",
            stacklevel=3,
        )
        return None
    return torch.from_numpy(array)


def _species(atoms: Any, index: dict[str, int], where: str) -> torch.Tensor:
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(index))
    if unknown:
        raise ValueError(
            f"{where}element(s) {unknown} not in chemical_symbols={list(index)}; add them to "
            "data.chemical_symbols (or remove those structures)"
        )
    return torch.tensor([index[s] for s in symbols], dtype=torch.long)


def _warn_close_atoms(
    pos: torch.Tensor, edge_index: torch.Tensor, shift: torch.Tensor, cell, where: str
) -> None:
    if edge_index.shape[1] == 0:
        return
    vec = pos[edge_index[1]] - pos[edge_index[0]] + shift @ cell
    length = torch.linalg.vector_norm(vec, dim=1)
    k = int(torch.argmin(length))
    if float(length[k]) < MIN_DISTANCE:
        j, i = edge_index[:, k].tolist()
        warnings.warn(
            f"{where}atoms {j} and {i} are {float(length[k]):.4f} A apart (< {MIN_DISTANCE} A); the "
            "structure is probably broken (duplicated atom, wrong units?)",
            stacklevel=3,
        )


def atoms_graph_from_ase(
    atoms: Any,
    chemical_symbols: Sequence[str],
    cutoff: float,
    energy_key: str | None = "energy",
    forces_key: str | None = "forces",
    stress_key: str | None = "stress",
    dtype: torch.dtype | None = None,
    label: str | None = None,
) -> AtomsGraph:
    """One ``ase.Atoms`` as an :class:`~e3lab.graph.AtomsGraph` with its periodic neighbour list.

    Args:
        atoms: the structure (positions need not be wrapped into the cell).
        chemical_symbols: element of each type index, e.g. ``["H", "C", "O"]``: species = position here.
        cutoff: neighbour-list radius (A).
        energy_key, forces_key: where the total energy (eV) and forces ([n, 3], eV/A) are; required when
            not None (a missing one is an error listing the keys that exist). Pass None for inference.
        stress_key: where the stress is (Voigt 6, 9 or [3, 3], eV/A^3, ASE's sign); optional: None when the
            structure has none or is not periodic in 3D.
        dtype: floating dtype of positions, cell and targets (default: torch's default dtype).
        label: prefix of error and warning messages (e.g. ``"data.xyz frame 12: "``).

    Returns:
        ``AtomsGraph`` with ``pos [n, 3]``, ``species [n]``, ``cell [3, 3]``, ``pbc [3]``, edges and
        ``energy []``, ``forces [n, 3]``, ``stress [3, 3]`` where available. A structure of one atom, or
        with no neighbour inside the cutoff, has zero edges.

    Raises:
        ValueError: unknown element, missing or malformed target, NaN/Inf, singular cell, a periodic
        axis with a zero cell vector. Warns when two atoms are closer than 0.1 A.
    """
    where = label or ""
    dtype = dtype or torch.get_default_dtype()
    index = {symbol: i for i, symbol in enumerate(chemical_symbols)}
    if len(index) != len(chemical_symbols):
        raise ValueError(f"chemical_symbols={list(chemical_symbols)} has duplicates; list each element once")
    species = _species(atoms, index, where)
    positions = np.asarray(atoms.positions, dtype=np.float64)
    _finite("positions", positions, where)
    cell_array = np.asarray(atoms.cell.array, dtype=np.float64)
    _finite("cell", cell_array, where)
    pos = torch.from_numpy(positions).to(dtype)
    cell = torch.from_numpy(cell_array).to(dtype)
    pbc = torch.from_numpy(np.asarray(atoms.pbc, dtype=bool))
    try:
        edge_index, edge_shift = neighbor_list(pos, cutoff, cell, pbc)
    except ValueError as err:
        raise ValueError(f"{where}{err}") from err
    _warn_close_atoms(pos, edge_index, edge_shift, cell, where)
    targets: dict[str, torch.Tensor | None] = {}
    if energy_key is not None:
        targets["energy"] = _energy(atoms, energy_key, where).to(dtype)
    if forces_key is not None:
        targets["forces"] = _forces(atoms, forces_key, where).to(dtype)
    if stress_key is not None:
        stress = _stress(atoms, stress_key, where)
        targets["stress"] = None if stress is None else stress.to(dtype)
    return AtomsGraph(
        pos=pos, species=species, cell=cell, pbc=pbc, edge_index=edge_index, edge_shift=edge_shift, **targets
    )
