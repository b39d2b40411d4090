"""AtomsDataModule: loaders of AtomsBatch, splits, the on-disk cache (hits, invalidation, atomic writes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from tests.data.atoms_files import random_structure, write_random_set

import e3lab.data._atoms_datamodule as datamodule_module
from e3lab.data import AtomsDataModule, atoms_graph_from_ase
from e3lab.graph import AtomsBatch

SYMBOLS = ["Cu", "Au"]


def make(path, tmp_path, **kwargs) -> AtomsDataModule:
    options = {"chemical_symbols": SYMBOLS, "cutoff": 3.0, "cache_dir": str(tmp_path / "cache")}
    return AtomsDataModule(str(path), **{**options, **kwargs})


def test_loaders_yield_atoms_batches(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 20)
    dm = make(path, tmp_path, train=12, val=4, test=4, batch_size=5, val_batch_size=3)
    assert dm.chemical_symbols == SYMBOLS and dm.cutoff == 3.0
    assert str(dm.irreps_in) == "2x0e" and str(dm.irreps_out) == "1x0e"
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, AtomsBatch) and batch.num_graphs == 5
    assert batch.energy.shape == (5,) and batch.stress.shape == (5, 3, 3)
    assert batch.forces.shape == (batch.pos.shape[0], 3)
    assert next(iter(dm.val_dataloader())).num_graphs == 3
    assert sum(b.num_graphs for b in dm.test_dataloader()) == 4
    # the test structures as ase.Atoms, in the order of the test loader
    frames = dm.structures("test")
    graphs = [g for b in dm.test_dataloader() for g in (b.graph(i) for i in range(b.num_graphs))]
    for atoms, graph in zip(frames, graphs, strict=True):
        torch.testing.assert_close(graph.pos, torch.tensor(atoms.positions, dtype=graph.pos.dtype))
    with pytest.raises(ValueError, match=r"split='fit' must be one of"):
        dm.structures("fit")


def test_irreps_and_dtype_are_checked(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 4)
    with pytest.raises(ValueError, match=r"irreps_in='1x0e'.*2x0e"):
        make(path, tmp_path, irreps_in="1x0e")
    with pytest.raises(ValueError, match="dtype='float16'"):
        make(path, tmp_path, dtype="float16")
    with pytest.raises(ValueError, match="each element once"):
        make(path, tmp_path, chemical_symbols=["Cu", "Cu"])
    dm = make(path, tmp_path, dtype="float64", train=2, val=1, test=1)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch.pos.dtype == batch.energy.dtype == batch.edge_shift.dtype == torch.float64


def test_splits_counts_fractions_seed(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 20)
    counts = make(path, tmp_path, train=10, val=3, test=None, seed=1)
    parts = {s: counts.indices(s) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [10, 3, 7]
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(20))  # disjoint, complete
    assert make(path, tmp_path, train=10, val=3, test=None, seed=1).indices("train") == parts["train"]
    assert make(path, tmp_path, train=10, val=3, test=None, seed=2).indices("train") != parts["train"]
    fractions = make(path, tmp_path, train=0.5, val=0.25, test=0.1)
    assert [len(fractions.indices(s)) for s in ("train", "val", "test")] == [10, 5, 2]


def test_separate_val_and_test_files(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 10, seed=0)
    val_path = write_random_set(tmp_path / "val.extxyz", 6, seed=1)
    test_path = write_random_set(tmp_path / "test.extxyz", 5, seed=2)
    dm = make(path, tmp_path, train=None, val=3, test=None, val_file=str(val_path), test_file=str(test_path))
    assert len(dm.indices("train")) == 10 and len(dm.indices("val")) == 3
    assert dm.indices("test") == list(range(5))
    expected = ase.io.read(test_path, index=":")
    for atoms, ref in zip(dm.structures("test"), expected, strict=True):
        np.testing.assert_array_equal(atoms.positions, ref.positions)
    val_energies = {a.get_potential_energy() for a in ase.io.read(val_path, index=":")}
    dm.setup()
    assert {float(g.energy) for g in dm._datasets["val"]} <= {float(np.float32(e)) for e in val_energies}


def test_bad_splits(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 6)
    with pytest.raises(ValueError, match=r"the val split is empty.*val=0"):
        make(path, tmp_path, train=5, val=0, test=1).setup()
    with pytest.raises(ValueError, match=r"need 9 frames but .* has 6"):
        make(path, tmp_path, train=5, val=2, test=2).setup()
    with pytest.raises(ValueError, match="only one split may take"):
        make(path, tmp_path, train=None, val=None, test=1).setup()
    with pytest.raises(ValueError, match="fraction and must lie in"):
        make(path, tmp_path, train=1.5, val=1, test=1).setup()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make(tmp_path / "missing.extxyz", tmp_path).setup()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make(path, tmp_path, val_file=str(tmp_path / "nope.xyz")).setup()


def test_bad_frame_is_named_by_file_and_index(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frames = [random_structure(rng, ["Cu", "Cu"]) for _ in range(4)]
    frames[2][0].symbol = "Ag"
    path = tmp_path / "bad.extxyz"
    ase.io.write(path, frames)
    with pytest.raises(ValueError, match=r"bad\.extxyz frame 2: element\(s\) \['Ag'\]"):
        make(path, tmp_path).setup()
    close = [random_structure(rng, ["Cu", "Cu"]) for _ in range(4)]
    close[3].positions[1] = close[3].positions[0] + 0.01
    ase.io.write(path, close)
    with pytest.warns(UserWarning, match=r"frame 3: atoms .* apart \(< 0\.1 A\)"):
        make(path, tmp_path, train=2, val=1, test=1).setup()


def test_cache_hit_and_invalidation(tmp_path, monkeypatch) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 8)
    first = make(path, tmp_path, train=4, val=2, test=2)
    first.setup()
    entries = sorted((tmp_path / "cache").glob("graphs_*.pt"))
    assert len(entries) == 1
    calls = []
    original = datamodule_module.read_ase_file
    monkeypatch.setattr(datamodule_module, "read_ase_file", lambda p: calls.append(p) or original(p))
    second = make(path, tmp_path, train=4, val=2, test=2)
    second.setup()
    assert calls == []  # a hit: the file was hashed, not parsed
    for a, b in zip(first._datasets["train"], second._datasets["train"], strict=True):
        assert torch.equal(a.pos, b.pos) and torch.equal(a.edge_index, b.edge_index)
    make(path, tmp_path, cutoff=3.5, train=4, val=2, test=2).setup()  # another cutoff: a new entry
    assert len(calls) == 1
    write_random_set(path, 8, seed=5)  # another file content under the same name: a new entry
    make(path, tmp_path, train=4, val=2, test=2).setup()
    assert len(calls) == 2
    assert len(list((tmp_path / "cache").glob("graphs_*.pt"))) == 3
    assert not list((tmp_path / "cache").glob(".*tmp"))  # no temporary file left behind


def test_damaged_cache_entry_is_rebuilt(tmp_path) -> None:
    path = write_random_set(tmp_path / "set.extxyz", 6)
    make(path, tmp_path, train=4, val=1, test=1).setup()
    (entry,) = (tmp_path / "cache").glob("graphs_*.pt")
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        dm = make(path, tmp_path, train=4, val=1, test=1)
        dm.setup()
    assert len(dm._datasets["train"]) == 4
    assert len(entry.read_bytes()) > 100


def test_killed_cache_write_leaves_no_entry(tmp_path) -> None:
    """A process killed (SIGKILL) in the middle of writing an entry leaves no file under the entry's name."""
    target = tmp_path / "cache" / "graphs_x.pt"
    module = datamodule_module.__file__.replace("_atoms_datamodule.py", "_atomic_write.py")
    script = textwrap.dedent(
        f"""
        import importlib.util, os, signal
        spec = importlib.util.spec_from_file_location("atomic", {module!r})  # standard library only: fast
        atomic = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(atomic)

        def write(f):
            f.write(b"x" * 100000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        atomic.atomic_write({str(target)!r}, write)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, env={**os.environ})
    assert result.returncode == -9
    assert not target.exists()
    assert len(list(target.parent.iterdir())) == 1  # only the temporary file, under another name


def test_missing_stress_in_a_mixed_set_is_nan(tmp_path) -> None:
    rng = np.random.default_rng(3)
    frames = [random_structure(rng, ["Cu", "Au"]) for _ in range(3)]
    slab = Atoms("Cu2", positions=[[0, 0, 5], [2, 0, 5]], cell=[4, 4, 10], pbc=(True, True, False))
    slab.calc = SinglePointCalculator(slab, energy=1.0, forces=np.zeros((2, 3)))
    path = tmp_path / "mixed.extxyz"
    ase.io.write(path, [*frames, slab])
    with pytest.warns(UserWarning, match="1 of 4 structures .* have no stress"):
        dm = make(path, tmp_path, train=2, val=1, test=1)
        dm.setup()
    graphs = [g for split in ("train", "val", "test") for g in dm._datasets[split]]
    stresses = {int(torch.isnan(g.stress).all()) for g in graphs}
    assert stresses == {0, 1}
    assert atoms_graph_from_ase(slab, SYMBOLS, 3.0).stress is None
