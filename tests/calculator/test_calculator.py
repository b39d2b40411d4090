"""E3labCalculator: the LightningModule's own numbers, finite differences, periodic images, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from e3lab.calculator import E3labCalculator
from e3lab.data import atoms_graph_from_ase
from e3lab.graph import collate_atoms
from e3lab.models import NodeRegressionModule

from ._potentials import CUTOFF, SYMBOLS, periodic_structure, save_checkpoint, tiny_potential


@pytest.fixture(scope="module")
def potential():
    return tiny_potential()


@pytest.fixture(scope="module")
def calc(potential):
    return E3labCalculator(potential, skin=0.5)


def test_matches_the_lightning_module(potential, calc):
    atoms = periodic_structure(seed=1)
    graph = atoms_graph_from_ase(
        atoms, SYMBOLS, CUTOFF, energy_key=None, forces_key=None, stress_key=None, dtype=torch.float64
    )
    with torch.no_grad():
        own = {
            k: v.detach()
            for k, v in potential.predict(collate_atoms([graph]), forces=True, stress=True).items()
        }
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(float(own["energy"][0]), abs=1e-10)
    assert atoms.get_potential_energy() == pytest.approx(atoms.get_potential_energy(force_consistent=True))
    np.testing.assert_allclose(atoms.get_forces(), own["forces"].numpy(), atol=1e-10)
    np.testing.assert_allclose(atoms.get_potential_energies(), own["atomic_energy"].numpy(), atol=1e-10)
    np.testing.assert_allclose(atoms.get_stress(voigt=False), own["stress"][0].numpy(), atol=1e-10)
    assert abs(atoms.get_forces()).max() > 1e-3  # a structure that tests something


@pytest.mark.filterwarnings("ignore:Please use `ase.calculators.fd")
def test_forces_and_stress_are_derivatives_of_the_energy(calc):
    atoms = periodic_structure(seed=2, repeat=1)
    atoms.calc = calc
    forces = atoms.get_forces()
    np.testing.assert_allclose(calc.calculate_numerical_forces(atoms, d=1e-4), forces, atol=1e-6)
    stress = atoms.get_stress()
    np.testing.assert_allclose(calc.calculate_numerical_stress(atoms, d=1e-5), stress, atol=1e-7)
    assert abs(stress).max() > 1e-4


def test_wrapped_and_lattice_shifted_atoms_give_the_same_numbers(calc):
    atoms = periodic_structure(seed=3)
    atoms.calc = calc
    reference = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    shifted = atoms.copy()
    rng = np.random.default_rng(0)
    shifted.positions += rng.integers(-2, 3, (len(atoms), 3)) @ atoms.cell.array
    wrapped = atoms.copy()
    wrapped.wrap()
    assert not np.allclose(wrapped.positions, atoms.positions)
    for moved in (shifted, wrapped):
        moved.calc = E3labCalculator(calc.model, skin=0.5)
        assert moved.get_potential_energy() == pytest.approx(reference[0], abs=1e-10)
        np.testing.assert_allclose(moved.get_forces(), reference[1], atol=1e-10)
        np.testing.assert_allclose(moved.get_stress(), reference[2], atol=1e-10)


def test_skin_keeps_the_list_for_small_moves_and_matches_a_fresh_list(potential):
    atoms = periodic_structure(seed=4)
    calc = E3labCalculator(potential, skin=0.6)
    atoms.calc = calc
    atoms.get_forces()
    rng = np.random.default_rng(1)
    for step in range(3):
        atoms.positions += rng.uniform(-0.1, 0.1, atoms.positions.shape)  # at most 0.17 A from the start
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        fresh = atoms.copy()
        fresh.calc = E3labCalculator(potential, skin=0.0)
        assert calc.neighbors.builds == 1, f"rebuilt after small move {step}"
        assert energy == pytest.approx(fresh.get_potential_energy(), abs=1e-12)
        np.testing.assert_allclose(forces, fresh.get_forces(), atol=1e-12)
    atoms.positions[0] += [0.35, 0.0, 0.0]  # now more than skin / 2 from where the list was built
    atoms.get_potential_energy()
    assert calc.neighbors.builds == 2
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    atoms.get_potential_energy()
    assert calc.neighbors.builds == 3


def test_from_checkpoint_equals_the_module(tmp_path, potential, calc):
    path = save_checkpoint(potential, tmp_path / "potential.ckpt")
    loaded = E3labCalculator.from_checkpoint(path, dtype=torch.float64)
    atoms = periodic_structure(seed=5)
    atoms.calc = loaded
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = calc
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-12)


def test_a_checkpoint_of_another_task_is_refused(tmp_path):
    other = NodeRegressionModule(
        net={"_target_": "e3lab.nn.EquivariantConvNet", "irreps_in": "1x0e", "irreps_out": "1x1o"}
    )
    path = save_checkpoint(other, tmp_path / "nodes.ckpt")
    with pytest.raises(ValueError, match="NodeRegressionModule, which is not an interatomic potential"):
        E3labCalculator.from_checkpoint(path)
    torch.save({"weights": 1}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a Lightning checkpoint"):
        E3labCalculator.from_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt"):
        E3labCalculator.from_checkpoint(tmp_path / "missing.ckpt")


def test_elements_the_potential_does_not_know_are_named(calc):
    atoms = periodic_structure(seed=6)
    atoms.symbols[[0, 3]] = ["Ag", "Pt"]
    atoms.calc = calc
    with pytest.raises(ValueError, match=r"element\(s\) \['Ag', 'Pt'\].*knows \['Cu', 'Au'\]"):
        atoms.get_potential_energy()


def test_pbc_without_a_cell_is_refused(calc):
    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]], pbc=True)
    atoms.calc = calc
    with pytest.raises(ValueError, match=r"periodic along axis \[0, 1, 2\] but the cell has no vector"):
        atoms.get_potential_energy()


@pytest.mark.filterwarnings("ignore:Please use `ase.calculators.fd")
def test_a_molecule_has_energy_and_forces_but_no_stress(calc):
    atoms = Atoms("CuAuCu", positions=[[0, 0, 0], [2.4, 0, 0], [0, 2.5, 0.3]])
    atoms.calc = calc
    np.testing.assert_allclose(atoms.get_forces().sum(axis=0), 0, atol=1e-10)  # no external force
    np.testing.assert_allclose(calc.calculate_numerical_forces(atoms, d=1e-4), atoms.get_forces(), atol=1e-6)
    with pytest.raises(ValueError, match="stress needs a cell periodic in 3D"):
        atoms.get_stress()
