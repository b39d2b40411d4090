"""``AtomsDataModule``: structures from any ASE-readable file as batches of ``AtomsBatch`` for potentials."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from e3lab.data._atoms_cache import (
    cache_key,
    default_cache_dir,
    file_digest,
    load_graphs,
    load_json,
    save_graphs,
    save_json,
)
from e3lab.data._atoms_io import atoms_graph_from_ase, read_ase_file
from e3lab.data._atoms_splits import SPLITS, split_indices
from e3lab.data._atoms_statistics import atoms_statistics
from e3lab.data._base import GraphSplitsDataModule
from e3lab.data._datasets import GraphListDataset, check_irreps
from e3lab.graph import AtomsGraph, collate_atoms
from e3lab.o3 import Irreps

__all__ = ["AtomsDataModule"]

log = logging.getLogger(__name__)
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _fill_missing_stress(graphs: list[AtomsGraph], name: str) -> None:
    """Where some structures have a stress and others not, give the others a NaN stress (in place)."""
    missing = [k for k, g in enumerate(graphs) if g.stress is None]
    if not missing or len(missing) == len(graphs):
        return
    warnings.warn(
        f"{len(missing)} of {len(graphs)} structures in {name} have no stress (e.g. frame {missing[0]}: not "
        "periodic in 3D); their stress is NaN, which losses and metrics skip",
        stacklevel=3,
    )
    for k in missing:
        graphs[k].stress = torch.full((3, 3), float("nan"), dtype=graphs[k].pos.dtype)


class AtomsDataModule(GraphSplitsDataModule):
    """Structures of atoms for interatomic potentials; batches are :class:`~e3lab.graph.AtomsBatch`.

    Reads every frame of ``file_path`` with ``ase.io.read(path, index=":")`` (extxyz, ASE ``.db``,
    ``.traj``, ...), converts each with :func:`~e3lab.data.atoms_graph_from_ase` (periodic neighbour list,
    species from ``chemical_symbols``, targets by key) and caches the graphs on disk, keyed by a hash of
    the file's bytes, the cutoff, the keys, the symbols and the dtype (atomic writes: an interrupted run
    leaves no partial cache). Structures that lack a stress while others have one get a NaN stress.

    Args:
        file_path: the data file.
        chemical_symbols: element of each type index, e.g. ``["H", "C", "O"]``.
        cutoff: neighbour-list radius (A).
        energy_key, forces_key, stress_key: keys of the targets (``atoms.info`` / ``atoms.arrays`` /
            an attached calculator's results); None: no such target.
        train, val, test: split sizes: a count (int), a fraction (float in (0, 1]) of the file's frames, or
            None for "the rest" (one split at most); frames beyond the sum are left out.
        seed: the random split depends on it only.
        val_file, test_file: optional separate files for validation / test (their split size then selects
            from that file; None: all of it).
        batch_size: structures per training batch; val_batch_size: per val/test batch (default batch_size).
        cache_dir: where the graphs and statistics are cached (default ``$E3LAB_CACHE_DIR/data`` or
            ``~/.cache/e3lab/data``).
        dtype: "float32" or "float64" (default: torch's default dtype when the module is made).
        irreps_in, irreps_out: optional, checked against ``f"{len(chemical_symbols)}x0e"`` (the one-hot
            species) and ``"1x0e"`` (the energy).

    Attributes read by the model config: ``chemical_symbols``, ``cutoff``, ``irreps_in``, ``irreps_out``.
    ``statistics()`` gives the training-set statistics (works before ``setup``); ``structures(split)``
    gives the frames of a split as ``ase.Atoms`` (e.g. the test structures for MD).
    """

    collate_fn = staticmethod(collate_atoms)

    def __init__(
        self,
        file_path: str,
        chemical_symbols: Sequence[str],
        cutoff: float,
        energy_key: str | None = "energy",
        forces_key: str | None = "forces",
        stress_key: str | None = "stress",
        train: int | float | None = 0.8,
        val: int | float | None = 0.1,
        test: int | float | None = None,
        seed: int = 0,
        val_file: str | None = None,
        test_file: str | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        cache_dir: str | None = None,
        dtype: str | None = None,
        irreps_in: str | None = None,
        irreps_out: str | None = None,
    ) -> None:
        super().__init__()
        chemical_symbols = [str(s) for s in chemical_symbols]
        if not chemical_symbols or len(set(chemical_symbols)) != len(chemical_symbols):
            raise ValueError(
                f"chemical_symbols={chemical_symbols} must list each element once (at least one)"
            )
        if dtype is None:
            dtype = str(torch.get_default_dtype()).removeprefix("torch.")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype={dtype!r} must be one of {list(_DTYPES)}")
        for name, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}={value!r} must be an int >= 1")
        self.save_hyperparameters(ignore=["irreps_in", "irreps_out"])
        self.hparams.chemical_symbols = chemical_symbols
        self.hparams.dtype = dtype
        self.chemical_symbols = chemical_symbols
        self.cutoff = float(cutoff)
        self.dtype = _DTYPES[dtype]
        self.irreps_in = check_irreps("irreps_in", irreps_in, Irreps(f"{len(chemical_symbols)}x0e"))
        self.irreps_out = check_irreps("irreps_out", irreps_out, Irreps("1x0e"))
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._indices: dict[str, list[int]] = {}
        self._graph_key: str | None = None
        self._statistics: dict | None = None

    def _files(self) -> dict[str, str]:
        """The file each split is read from."""
        main = self.hparams.file_path
        return {
            "train": main,
            "val": self.hparams.val_file or main,
            "test": self.hparams.test_file or main,
        }

    def _load(self, path: str) -> tuple[list[AtomsGraph], str]:
        """All frames of ``path`` as graphs (from the cache when there) and their cache key."""
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"data file {path!r} does not exist; check data.file_path / val_file / test_file"
            )
        hp = self.hparams
        key = cache_key(
            kind="graphs",
            file=file_digest(path),
            cutoff=self.cutoff,
            chemical_symbols=self.chemical_symbols,
            keys=[hp.energy_key, hp.forces_key, hp.stress_key],
            dtype=hp.dtype,
        )
        entry = self.cache_dir / f"graphs_{Path(path).stem}_{key}.pt"
        graphs = load_graphs(entry)
        if graphs is None:
            frames = read_ase_file(path)
            log.info(
                "building the neighbour lists of %d structures in %s (cached at %s)", len(frames), path, entry
            )
            graphs = [
                atoms_graph_from_ase(
                    atoms,
                    self.chemical_symbols,
                    self.cutoff,
                    energy_key=hp.energy_key,
                    forces_key=hp.forces_key,
                    stress_key=hp.stress_key,
                    dtype=self.dtype,
                    label=f"{path} frame {k}: ",
                )
                for k, atoms in enumerate(frames)
            ]
            _fill_missing_stress(graphs, path)
            save_graphs(entry, graphs)
        return graphs, key

    def setup(self, stage: str | None = None) -> None:
        """Read (or load from the cache) the structures and split them; idempotent."""
        if self._datasets:
            return
        files = self._files()
        loaded = {path: self._load(path) for path in dict.fromkeys(files.values())}
        main = self.hparams.file_path
        separate = {s: len(loaded[f][0]) for s, f in files.items() if f != main}
        sizes = {s: getattr(self.hparams, s) for s in SPLITS}
        self._indices = split_indices(len(loaded[main][0]), sizes, self.hparams.seed, separate, main)
        self._graph_key = loaded[main][1]
        for split in SPLITS:
            graphs = loaded[files[split]][0]
            self._datasets[split] = GraphListDataset([graphs[k] for k in self._indices[split]])

    def _batch_size(self, split: str) -> int:
        if split != "train" and self.hparams.val_batch_size is not None:
            return self.hparams.val_batch_size
        return self.hparams.batch_size

    def indices(self, split: str) -> list[int]:
        """Frame indices of ``split`` in its file (``train``/``val``/``test``); runs ``setup`` if needed."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} must be one of {SPLITS}")
        self.setup()
        return list(self._indices[split])

    def statistics(self) -> dict[str, Any]:
        """Training-split statistics (see ``e3lab.data._atoms_statistics``), computed once and cached.

        Keys: ``avg_num_neighbors``, ``num_structures``, ``num_atoms_mean``, ``per_atom_energy_mean``,
        ``per_atom_energy_std``, ``per_element_energy_shift`` (list, ``chemical_symbols`` order),
        ``per_atom_energy_residual_rms``, ``force_rms``, ``per_element_force_rms`` (list); the energy and
        force entries only when those targets exist. Works before ``trainer.fit`` (runs ``setup``).
        """
        if self._statistics is None:
            self.setup()
            key = cache_key(kind="statistics", graphs=self._graph_key, train=self._indices["train"])
            entry = self.cache_dir / f"stats_{Path(self.hparams.file_path).stem}_{key}.json"
            stats = load_json(entry)
            if stats is None:
                stats = atoms_statistics(list(self._datasets["train"]), self.chemical_symbols)
                save_json(entry, stats)
            self._statistics = stats
        return dict(self._statistics)

    def structures(self, split: str) -> list[Any]:
        """The frames of ``split`` as ``ase.Atoms`` read from its file, in :meth:`indices` order."""
        indices = self.indices(split)
        frames = read_ase_file(self._files()[split])
        return [frames[k] for k in indices]
