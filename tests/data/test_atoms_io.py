"""atoms_graph_from_ase and read_ase_file: targets by key, unit conventions, and every bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import voigt_6_to_full_3x3_stress
from tests.data.atoms_files import random_structure, write_random_set

from e3lab.data import atoms_graph_from_ase, read_ase_file

SYMBOLS = ["Cu", "Au"]


def labelled(rng: np.random.Generator, n: int = 3) -> Atoms:
    return random_structure(rng, ["Cu"] * n)


def test_targets_from_the_calculator_info_and_arrays() -> None:
    rng = np.random.default_rng(0)
    atoms = labelled(rng)
    graph = atoms_graph_from_ase(atoms, SYMBOLS, 3.0, dtype=torch.float64)
    results = atoms.calc.results
    assert graph.energy.item() == results["energy"]
    torch.testing.assert_close(graph.forces, torch.tensor(results["forces"]))
    torch.testing.assert_close(graph.stress, torch.tensor(voigt_6_to_full_3x3_stress(results["stress"])))
    assert graph.species.tolist() == [0, 0, 0]
    torch.testing.assert_close(graph.cell, torch.tensor(atoms.cell.array))
    assert graph.pbc.tolist() == [True, True, True]
    # the same targets under other names, in info/arrays (as extxyz stores REF_ keys)
    other = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
    other.info["REF_energy"] = results["energy"]
    other.arrays["REF_forces"] = results["forces"]
    other.info["REF_stress"] = voigt_6_to_full_3x3_stress(results["stress"]).reshape(9)
    again = atoms_graph_from_ase(
        other, SYMBOLS, 3.0, "REF_energy", "REF_forces", "REF_stress", dtype=torch.float64
    )
    for name in ("energy", "forces", "stress", "pos", "edge_index", "edge_shift"):
        assert torch.equal(getattr(again, name), getattr(graph, name)), name
    bare = atoms_graph_from_ase(other, SYMBOLS, 3.0, None, None, None)
    assert bare.energy is None and bare.forces is None and bare.stress is None
    assert bare.pos.dtype == torch.get_default_dtype()


def test_no_energy_key_lists_the_keys_that_exist() -> None:
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [2, 0, 0]])
    atoms.info["REF_energy"] = 1.0
    with pytest.raises(ValueError, match=r"no energy under energy_key='energy'.*REF_energy"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, forces_key=None)
    with pytest.raises(ValueError, match=r"no forces under forces_key='forces'"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, energy_key="REF_energy")


def test_forces_and_stress_with_the_wrong_shape() -> None:
    rng = np.random.default_rng(1)
    atoms = labelled(rng)
    atoms.info["F"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"forces 'F' have shape \(4, 3\), expected \(3, 3\)"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, forces_key="F")
    atoms.info["S"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"stress 'S' has shape \(5,\), expected 6"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, stress_key="S")


def test_unknown_element_is_named_with_the_list() -> None:
    atoms = Atoms("CuAg", positions=[[0, 0, 0], [2, 0, 0]])
    with pytest.raises(ValueError, match=r"\['Ag'\] not in chemical_symbols=\['Cu', 'Au'\]"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, None, None, None)


@pytest.mark.parametrize("where", ["positions", "energy", "forces", "stress"])
def test_nan_or_inf_is_rejected(where: str) -> None:
    rng = np.random.default_rng(2)
    atoms = labelled(rng)
    results = atoms.calc.results
    if where == "positions":
        atoms.positions[1, 2] = np.nan
    elif where == "energy":
        results["energy"] = np.inf
    else:
        results[where] = results[where].copy()
        results[where].flat[0] = np.nan
    with pytest.raises(ValueError, match=f"{where} contains NaN or Inf"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, label="frame 7: ")


def test_close_atoms_warn_with_the_frame() -> None:
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [0.05, 0, 0]])
    with pytest.warns(UserWarning, match=r"frame 3: atoms 1 and 0 are 0\.0500 A apart"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, None, None, None, label="frame 3: ")


def test_singular_cell_and_zero_periodic_vector() -> None:
    atoms = Atoms("Cu", positions=[[0, 0, 0]], cell=[[3, 0, 0], [0, 3, 0], [3, 3, 0]], pbc=True)
    with pytest.raises(ValueError, match=r"frame 1: .*singular cell"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, None, None, None, label="frame 1: ")
    atoms = Atoms("Cu", positions=[[0, 0, 0]], cell=[3, 3, 0], pbc=True)
    with pytest.raises(ValueError, match=r"cell vector c \(cell\[2\]\) is zero"):
        atoms_graph_from_ase(atoms, SYMBOLS, 3.0, None, None, None)
    atoms.pbc = (True, True, False)  # the fix the message suggests
    assert atoms_graph_from_ase(atoms, SYMBOLS, 3.5, None, None, None).edge_index.shape[1] == 4


def test_one_atom_and_no_neighbours_are_fine() -> None:
    lone = Atoms("Au", positions=[[1, 2, 3]])
    lone.calc = SinglePointCalculator(lone, energy=-3.0, forces=np.zeros((1, 3)))
    graph = atoms_graph_from_ase(lone, SYMBOLS, 5.0)
    assert graph.num_atoms == 1 and graph.edge_index.shape == (2, 0) and graph.species.tolist() == [1]
    assert graph.energy.item() == -3.0 and graph.stress is None
    crystal = Atoms("Au", positions=[[0, 0, 0]], cell=np.eye(3) * 2.9, pbc=True)
    assert atoms_graph_from_ase(crystal, SYMBOLS, 3.0, None, None, None).edge_index.shape[1] == 6
    sparse = Atoms("CuAu", positions=[[0, 0, 0], [4, 4, 4]], cell=np.eye(3) * 12, pbc=True)
    sparse.calc = SinglePointCalculator(sparse, energy=1.0, forces=np.zeros((2, 3)), stress=np.zeros(6))
    graph = atoms_graph_from_ase(sparse, SYMBOLS, 3.0)
    assert graph.edge_index.shape == (2, 0) and graph.edge_shift.shape == (0, 3)
    assert torch.isfinite(graph.stress).all()


def test_stress_of_a_structure_that_is_not_periodic_in_3d_is_ignored() -> None:
    slab = Atoms("Cu2", positions=[[0, 0, 0], [2, 0, 0]], cell=[4, 4, 10], pbc=(True, True, False))
    slab.calc = SinglePointCalculator(slab, energy=1.0, forces=np.zeros((2, 3)), stress=np.ones(6))
    with pytest.warns(UserWarning, match="not periodic in 3D"):
        graph = atoms_graph_from_ase(slab, SYMBOLS, 3.0)
    assert graph.stress is None


def test_read_missing_and_unreadable_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_ase_file(tmp_path / "nope.extxyz")
    garbage = tmp_path / "broken.extxyz"
    garbage.write_text("3\nthis is not extxyz\nCu 0 0\n")
    with pytest.raises(ValueError, match=r"ase\.io\.read could not read"):
        read_ase_file(garbage)
    unknown = tmp_path / "data.unknownformat"
    unknown.write_text("hello")
    with pytest.raises(ValueError, match="could not read"):
        read_ase_file(unknown)


@pytest.mark.parametrize("extension", ["extxyz", "traj", "db"])
def test_every_ase_format_gives_the_same_graphs(tmp_path, extension: str) -> None:
    import ase.io

    source = write_random_set(tmp_path / "set.extxyz", 4)
    frames = read_ase_file(source)
    target = tmp_path / f"copy.{extension}"
    ase.io.write(target, frames)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_ase_file(target)
    for a, b in zip(frames, back, strict=True):
        ga = atoms_graph_from_ase(a, SYMBOLS, 3.0, dtype=torch.float64)
        gb = atoms_graph_from_ase(b, SYMBOLS, 3.0, dtype=torch.float64)
        for name in ("pos", "species", "cell", "edge_index", "edge_shift", "energy", "forces", "stress"):
            torch.testing.assert_close(getattr(ga, name), getattr(gb, name))
