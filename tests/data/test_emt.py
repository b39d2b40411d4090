"""EMT data sets: determinism per seed, what each kind of frame holds, the cache, and NequIP's toy set."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.emt import EMT

import e3lab.data._emt as emt_module
from e3lab.data import generate_emt, nequip_toy_cu

TOY_SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "peer" / "nequip" / "make_emt_cu.py"

SMALL = {
    "supercells": [[1, 1, 1], [2, 1, 1]],
    "rattle_frames": 3,
    "md_temperatures": [300.0, 1300.0],
    "md_frames": 2,
    "md_interval": 3,
    "vacancy_frames": 2,
}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path) -> None:
    a = generate_emt(str(tmp_path / "a.extxyz"), seed=3, **SMALL)
    b = generate_emt(str(tmp_path / "b.extxyz"), seed=3, **SMALL)
    c = generate_emt(str(tmp_path / "c.extxyz"), seed=4, **SMALL)
    assert Path(a).read_bytes() == Path(b).read_bytes()
    assert Path(a).read_bytes() != Path(c).read_bytes()


def test_frames_and_labels(tmp_path) -> None:
    path = generate_emt(
        str(tmp_path / "set.extxyz"),
        elements=["Cu", "Au"],
        alloy_fraction=0.5,
        surface_frames=2,
        surface_size=[2, 2, 3],
        **SMALL,
    )
    frames = ase.io.read(path, index=":")
    kinds = Counter(a.info["config_type"] for a in frames)
    assert kinds == {"rattle": 3, "md_300K": 4, "md_1300K": 4, "vacancy": 2, "surface": 2}
    assert {len(a) for a in frames if a.info["config_type"] == "rattle"} == {4, 8}
    assert all(len(a) in (2, 3, 6, 7) for a in frames if a.info["config_type"] == "vacancy")
    assert {s for a in frames for s in a.get_chemical_symbols()} == {"Cu", "Au"}
    for atoms in frames:
        results = atoms.calc.results
        periodic = bool(atoms.pbc.all())
        assert ("stress" in results) == periodic
        assert periodic or atoms.info["config_type"] == "surface"
        # the labels are EMT's (of positions before extxyz rounded them to 1e-8 A)
        check = atoms.copy()
        check.calc = EMT()
        assert results["energy"] == pytest.approx(check.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(results["forces"], check.get_forces(), atol=1e-6)
        if periodic:
            np.testing.assert_allclose(results["stress"], check.get_stress(), atol=1e-8)
    # MD frames move: consecutive snapshots differ
    md = [a for a in frames if a.info["config_type"] == "md_300K"]
    assert not np.allclose(md[0].positions, md[1].positions)


def test_written_once_in_the_cache_keyed_by_parameters(tmp_path, monkeypatch) -> None:
    first = generate_emt(cache_dir=str(tmp_path), seed=1, **SMALL)
    assert Path(first).parent == tmp_path and Path(first).suffix == ".extxyz"
    monkeypatch.setattr(emt_module, "_write_extxyz", lambda *a: pytest.fail("regenerated"))
    assert generate_emt(cache_dir=str(tmp_path), seed=1, **SMALL) == first
    monkeypatch.undo()
    other = generate_emt(cache_dir=str(tmp_path), seed=1, **{**SMALL, "rattle_frames": 4})
    assert other != first
    assert not list(tmp_path.glob(".*tmp"))


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"EMT knows .*\['Fe'\]"):
        generate_emt(elements=["Cu", "Fe"])
    with pytest.raises(ValueError, match="3 positive repeats"):
        generate_emt(supercells=[[1, 1]])


@pytest.mark.skipif(not TOY_SCRIPT.is_file(), reason=f"NequIP's toy-set script is not at {TOY_SCRIPT}")
def test_nequip_toy_set_is_reproduced_bit_for_bit(tmp_path) -> None:
    reference = tmp_path / "reference.extxyz"
    subprocess.run([sys.executable, str(TOY_SCRIPT), str(reference), "3"], check=True)
    ours = nequip_toy_cu(str(tmp_path / "ours.extxyz"), n_frames=3)
    expected, got = ase.io.read(reference, index=":"), ase.io.read(ours, index=":")
    assert len(got) == len(expected) == 3
    for a, b in zip(got, expected, strict=True):
        assert len(a) == 128 and a.get_chemical_formula() == "Cu128"
        assert np.array_equal(a.positions, b.positions)
        assert np.array_equal(a.cell.array, b.cell.array) and a.pbc.all() and b.pbc.all()
        assert a.get_potential_energy() == b.get_potential_energy()
        assert np.array_equal(a.get_forces(), b.get_forces())
        assert np.array_equal(a.get_stress(), b.get_stress())
    # the first frames do not depend on how many are written; the cached copy is the same data
    cached = ase.io.read(nequip_toy_cu(n_frames=5, cache_dir=str(tmp_path)), index=":")
    assert np.array_equal(cached[2].positions, expected[2].positions)
