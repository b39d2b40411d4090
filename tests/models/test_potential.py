"""InteratomicPotential: forces and stress against finite differences, symmetries with periodic cells,
per-element scale and shift, loss weights, clear errors (float64 where numbers are compared)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from e3lab.graph import collate_atoms
from e3lab.models import InteratomicPotential
from e3lab.o3 import rand_matrix

from ._atoms import BACKBONES, CUTOFF, GATED, NEQUIP, SYMBOLS, batch, moved, structure


def potential(net: dict, **kwargs: object) -> InteratomicPotential:
    kwargs.setdefault("per_element_energy_shift", [-0.5, 1.5])
    kwargs.setdefault("per_element_energy_scale", [2.0, 0.5])
    return InteratomicPotential(net, SYMBOLS, CUTOFF, **kwargs).eval()


@pytest.mark.parametrize("name", BACKBONES)
def test_forces_are_minus_the_energy_gradient(float64: None, name: str) -> None:
    model, b = potential(BACKBONES[name]), batch(5, 4)
    forces = model.predict(b)["forces"]
    h, fd = 1e-5, torch.zeros_like(b.pos)
    for atom in range(b.pos.shape[0]):
        for axis in range(3):
            step = torch.zeros_like(b.pos)
            step[atom, axis] = h
            up = model.predict(moved(b, b.pos + step), forces=False)["energy"].sum()
            down = model.predict(moved(b, b.pos - step), forces=False)["energy"].sum()
            fd[atom, axis] = -(up - down) / (2 * h)
    assert forces.abs().max() > 1e-3  # not trivially zero
    torch.testing.assert_close(forces, fd, rtol=0, atol=1e-7 * float(forces.abs().max()))


@pytest.mark.parametrize("name", BACKBONES)
def test_stress_is_the_strain_derivative_over_the_volume(float64: None, name: str) -> None:
    """ASE's convention: cell -> cell (1 + e), positions scaled with it, stress = (1/V) dE/de."""
    model, b = potential(BACKBONES[name]), batch(4, 3)
    stress = model.predict(b, forces=False, stress=True)["stress"]
    h, fd = 1e-5, torch.zeros_like(stress)
    volume = torch.linalg.det(b.cell).abs()
    for i in range(3):
        for j in range(3):
            strain = torch.zeros(3, 3)
            strain[i, j] += h / 2
            strain[j, i] += h / 2
            energies = []
            for sign in (1, -1):
                deform = torch.eye(3) + sign * strain
                energies.append(
                    model.predict(moved(b, b.pos @ deform, b.cell @ deform), forces=False)["energy"]
                )
            fd[:, i, j] = (energies[0] - energies[1]) / (2 * h) / volume
    assert stress.abs().max() > 1e-4
    torch.testing.assert_close(stress, fd, rtol=0, atol=1e-7 * float(stress.abs().max()))
    torch.testing.assert_close(stress, stress.transpose(1, 2), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("inversion", [False, True])
def test_rotating_and_inverting_positions_and_cell(float64: None, name: str, inversion: bool) -> None:
    model, b = potential(BACKBONES[name]), batch(5, 4)
    R = rand_matrix() * (-1.0 if inversion else 1.0)
    out = model.predict(b, stress=True)
    turned = model.predict(moved(b, b.pos @ R.T, b.cell @ R.T), stress=True)
    torch.testing.assert_close(turned["energy"], out["energy"], rtol=0, atol=1e-10)
    torch.testing.assert_close(turned["forces"], out["forces"] @ R.T, rtol=0, atol=1e-10)
    torch.testing.assert_close(turned["stress"], R @ out["stress"] @ R.T, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", BACKBONES)
def test_permuting_and_translating_change_nothing(float64: None, name: str) -> None:
    model = potential(BACKBONES[name])
    g = structure(6, seed=3)
    out = model.predict(collate_atoms([g]), stress=True)
    perm = torch.randperm(6)
    inverse = torch.argsort(perm)  # new index of each old atom
    permuted = dataclasses.replace(
        g, pos=g.pos[perm], species=g.species[perm], forces=g.forces[perm], edge_index=inverse[g.edge_index]
    )
    out_p = model.predict(collate_atoms([permuted]), stress=True)
    torch.testing.assert_close(out_p["energy"], out["energy"], rtol=0, atol=1e-10)
    torch.testing.assert_close(out_p["forces"], out["forces"][perm], rtol=0, atol=1e-10)
    torch.testing.assert_close(out_p["stress"], out["stress"], rtol=0, atol=1e-10)
    shifted = model.predict(collate_atoms([dataclasses.replace(g, pos=g.pos + torch.randn(3))]), stress=True)
    for key in ("energy", "forces", "stress"):
        torch.testing.assert_close(shifted[key], out[key], rtol=0, atol=1e-10)


def test_per_element_scale_and_shift(float64: None) -> None:
    plain = potential(NEQUIP, per_element_energy_shift=None, per_element_energy_scale=None)
    shifted = potential(NEQUIP, per_element_energy_shift=[-0.5, 1.5], per_element_energy_scale=[2.0, 0.5])
    shifted.load_state_dict(
        {**plain.state_dict(), "energy_shift": shifted.energy_shift, "energy_scale": shifted.energy_scale}
    )
    b = batch(5, 4)
    base, out = plain.predict(b), shifted.predict(b)
    scale, shift = torch.tensor([2.0, 0.5])[b.species], torch.tensor([-0.5, 1.5])[b.species]
    torch.testing.assert_close(
        out["atomic_energy"], scale * base["atomic_energy"] + shift, rtol=0, atol=1e-12
    )
    energy = torch.zeros(2).index_add(0, b.batch, out["atomic_energy"])
    torch.testing.assert_close(out["energy"], energy, rtol=0, atol=1e-12)
    # one number for every element: a uniform scale scales the forces, a shift leaves them
    single = potential(NEQUIP, per_element_energy_shift=0.25, per_element_energy_scale=3.0)
    assert single.energy_shift.tolist() == [0.25, 0.25] and single.energy_scale.tolist() == [3.0, 3.0]
    state = {**plain.state_dict(), "energy_shift": single.energy_shift, "energy_scale": single.energy_scale}
    single.load_state_dict(state)
    torch.testing.assert_close(single.predict(b)["forces"], 3.0 * base["forces"], rtol=1e-12, atol=1e-12)


def test_no_neighbours_gives_zero_forces_not_nan(float64: None) -> None:
    g = structure(2, seed=0, pbc=(False, False, False), targets=False)
    far = dataclasses.replace(
        g,
        pos=torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]),
        edge_index=torch.zeros(2, 0, dtype=torch.long),
        edge_shift=torch.zeros(0, 3),
    )
    for net in (NEQUIP, GATED):
        out = potential(net).predict(collate_atoms([far]))
        assert torch.isfinite(out["energy"]).all() and torch.equal(out["forces"], torch.zeros(2, 3))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_loss_is_the_weighted_sum_of_the_mses(float64: None) -> None:
    model = potential(NEQUIP, energy_weight=2.0, forces_weight=0.5, stress_weight=3.0).train()
    b = batch(5, 4)
    loss = model.training_step(b, 0)
    pred = model.predict(b, stress=True)
    per_atom = ((pred["energy"] - b.energy) / b.num_atoms) ** 2
    expected = (
        2.0 * per_atom.mean()
        + 0.5 * ((pred["forces"] - b.forces) ** 2).mean()
        + 3.0 * ((pred["stress"] - b.stress) ** 2).mean()
    )
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    assert loss.requires_grad  # create_graph in training: the force loss reaches the weights
    loss.backward()
    assert all(p.grad is not None for p in model.net.parameters())


def test_nan_stress_marks_structures_without_one(float64: None) -> None:
    model = potential(NEQUIP, stress_weight=1.0).train()
    b = batch(5, 4)
    b.stress[1] = float("nan")
    value, count = model._losses(model.predict(b, stress=True), b)["stress"]
    pred = model.predict(b, stress=True)
    torch.testing.assert_close(value, ((pred["stress"][0] - b.stress[0]) ** 2).mean())
    assert int(count) == 9  # the stress components of the one structure that has a stress


def test_the_evaluation_loss_does_not_depend_on_how_the_set_is_cut(float64: None) -> None:
    model = potential(NEQUIP, stress_weight=1.0).eval()
    structures = [structure(n, seed) for seed, n in enumerate((3, 5, 4, 6, 2))]  # batch means differ
    results = []
    for cuts in ([1, 4], [3, 2], [5]):  # two batches, another two, one
        start = 0
        for size in cuts:
            b = collate_atoms(structures[start : start + size])
            start += size
            with torch.no_grad():
                model.val_loss.update(model._losses(model.predict(b, stress=True), b))
        results.append(model.val_loss.compute())
        model.val_loss.reset()
    for other in results[1:]:
        assert other.keys() == results[0].keys() == {"loss", "loss_energy", "loss_forces", "loss_stress"}
        for key, value in other.items():
            torch.testing.assert_close(value, results[0][key], rtol=1e-12, atol=0)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_bad_inputs_are_named() -> None:
    model = potential(NEQUIP)
    b = batch(5, 4)
    with pytest.raises(ValueError, match=r"species index 2 is outside chemical_symbols \['Cu', 'Au'\]"):
        model.predict(dataclasses.replace(b, species=torch.full_like(b.species, 2)))
    with pytest.raises(TypeError, match=r"the batch is torch\.float64 but the model is torch\.float32"):
        model.predict(b.to(dtype=torch.float64))
    with pytest.raises(ValueError, match=r"forces_weight=1\.0 but the batch has no forces"):
        model.train().training_step(dataclasses.replace(b, forces=None), 0)
    with pytest.raises(RuntimeError, match="inference_mode"), torch.inference_mode():
        model.predict(b)
    with pytest.raises(ValueError, match="stress needs a cell with a volume"):
        model.predict(dataclasses.replace(b, cell=torch.zeros_like(b.cell)), stress=True)
    with pytest.raises(ValueError, match="per_element_energy_shift has 3 values"):
        potential(NEQUIP, per_element_energy_shift=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="needs 2x0e"):
        InteratomicPotential({**NEQUIP, "irreps_in": "3x0e"}, SYMBOLS, CUTOFF)
    with pytest.raises(ValueError, match="compile=True cannot train on forces"):
        InteratomicPotential(NEQUIP, SYMBOLS, CUTOFF, compile=True)
    with pytest.raises(ValueError, match="forces_weight=-1"):
        InteratomicPotential(NEQUIP, SYMBOLS, CUTOFF, forces_weight=-1)
