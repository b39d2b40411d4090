"""PotentialEquivarianceCallback: energy, forces and stress under E(3), permutations and periodic images."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from e3lab.callbacks import (
    EquivarianceCallback,
    EquivarianceWarning,
    PotentialEquivarianceCallback,
    potential_symmetry_errors,
)
from e3lab.callbacks._atoms_transforms import lattice_shift, permute_atoms, rotate, wrap_into_cell
from e3lab.callbacks._equivariance_check import random_transform
from e3lab.callbacks._potential_access import held_out_copy
from e3lab.graph import neighbor_list

from ._callback_toys import ToyTask, tiny_trainer
from ._potential_toys import CUTOFF, ToyPotential, loader, real_potential, structures

CHECKS = ("energy", "forces", "permutation", "translation", "periodic_wrap", "lattice_shift")


def _errors(model, batch, stress=False, seed=0):
    transform = random_transform(batch, seed)
    generator = torch.Generator().manual_seed(seed)
    return {
        k: float(v)
        for k, v in potential_symmetry_errors(model, batch, transform, CUTOFF, stress, generator).items()
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_equivariant_potential_float64_below_1e_10_with_every_check(float64, seed):
    torch.manual_seed(seed)
    model = ToyPotential()
    errors = _errors(model, structures(seed=seed), seed=seed)
    assert set(errors) == set(CHECKS)
    assert max(errors.values()) < 1e-10, errors


def test_interatomic_potential_float64_below_1e_10_with_stress(float64):
    model = real_potential().double()
    errors = _errors(model, structures())
    assert set(errors) == set(CHECKS) and max(errors.values()) < 1e-10, errors
    errors = _errors(model.train(), structures(("bulk", "bulk")), stress=True)  # live weights, not the EMA
    assert errors["stress"] < 1e-10 and max(errors.values()) < 1e-10, errors


def test_stress_rotates_as_a_rank_2_tensor(float64):
    torch.manual_seed(0)
    model = ToyPotential()
    batch = structures(("bulk", "bulk"))
    errors = _errors(model, batch, stress=True)
    assert errors["stress"] < 1e-10, errors
    # the check compares R S R^T: the stress is not invariant, so comparing S itself would fail
    out = model.predict(batch, stress=True)["stress"].detach()
    R = random_transform(batch, 0).matrix
    rotated = model.predict(rotate(batch, R), stress=True)["stress"].detach()
    assert (rotated - out).abs().max() > 1e-3 * out.abs().max()


def test_position_dependent_model_fails_rotation_and_translation_but_not_permutation(float64):
    torch.manual_seed(0)
    errors = _errors(ToyPotential(symmetry_breaking=True), structures())
    assert errors["energy"] > 1e-4 and errors["forces"] > 1e-4 and errors["translation"] > 1e-4, errors
    assert errors["permutation"] < 1e-10, errors  # each check is logged on its own


def test_missing_periodic_images_fail_only_the_periodic_checks(float64):
    torch.manual_seed(0)
    batch = structures(("bulk", "slab"))
    # a neighbour list that ignores the cell: consistent under rotations, wrong about periodic images
    open_edges = [
        neighbor_list(batch.pos[lo:hi], CUTOFF) for lo, hi in zip(batch.ptr[:-1], batch.ptr[1:], strict=True)
    ]
    edge_index = torch.cat([e + lo for (e, _), lo in zip(open_edges, batch.ptr[:-1], strict=True)], dim=1)
    bad = dataclasses.replace(batch, edge_index=edge_index, edge_shift=torch.zeros(edge_index.shape[1], 3))
    errors = _errors(ToyPotential(), bad)
    assert errors["periodic_wrap"] > 1e-3 and errors["lattice_shift"] > 1e-3, errors
    assert max(errors[k] for k in ("energy", "forces", "permutation", "translation")) < 1e-10, errors


def test_transforms_wrap_shift_and_permute(float64):
    batch = structures()
    generator = torch.Generator().manual_seed(0)
    moved = dataclasses.replace(
        batch, pos=batch.pos + 5.0 * torch.randn(batch.pos.shape, generator=generator)
    )
    wrapped = wrap_into_cell(moved, CUTOFF)
    for b in range(batch.num_graphs):
        lo, hi = int(batch.ptr[b]), int(batch.ptr[b + 1])
        cell, pbc = batch.cell[b], batch.pbc[b]
        if bool(pbc.all()):
            frac = torch.linalg.solve(cell.T, wrapped.pos[lo:hi].T).T
            assert bool((frac >= 0).all() and (frac < 1).all())
        if not bool(pbc.any()):
            torch.testing.assert_close(wrapped.pos[lo:hi], moved.pos[lo:hi], rtol=0, atol=0)
    # slab: z is untouched (its third cell vector is zero), x/y wrapped
    slab = slice(int(batch.ptr[1]), int(batch.ptr[2]))
    torch.testing.assert_close(wrapped.pos[slab, 2], moved.pos[slab, 2], rtol=0, atol=1e-12)
    assert wrapped.energy is None and wrapped.forces is None

    with pytest.raises(ValueError, match="non-periodic direction"):
        lattice_shift(batch, torch.tensor([int(batch.ptr[1])]), torch.tensor([[0, 0, 1]]), CUTOFF)
    shifted = lattice_shift(batch, torch.tensor([0]), torch.tensor([[1, -1, 2]]), CUTOFF)
    assert shifted.edge_index.shape[1] == batch.edge_index.shape[1]  # same graph, other images

    perm = random_transform(batch, 3).permutation
    permuted = permute_atoms(batch, perm)
    lengths = permuted.edge_vectors().norm(dim=1).sort().values
    torch.testing.assert_close(lengths, batch.edge_vectors().norm(dim=1).sort().values)
    with pytest.raises(ValueError, match="own structure"):
        permute_atoms(batch, torch.arange(batch.pos.shape[0]).flip(0))


def test_held_out_copy_of_an_inference_batch_works_with_autograd(float64):
    with torch.inference_mode():
        batch = structures().to(dtype=torch.float64)
        batch = dataclasses.replace(batch, pos=batch.pos.clone())
    copy = held_out_copy(batch)
    assert not copy.pos.is_inference()
    assert ToyPotential().predict(copy)["forces"].shape == copy.pos.shape
    with pytest.raises(TypeError, match="AtomsBatch"):
        held_out_copy(object())


def test_callback_in_a_trainer_logs_every_check_and_writes_the_run_file(tmp_path):
    torch.manual_seed(0)
    callback = PotentialEquivarianceCallback(float64=True, threshold=1e-8, seed=3)
    trainer = tiny_trainer(tmp_path, [callback], max_epochs=2, inference_mode=False)
    model = ToyPotential()
    trainer.fit(model, loader(2), loader(1))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for check in CHECKS:
        assert metrics[f"equivariance/{check}_rel_error"] < 1e-10
    assert "equivariance/stress_rel_error" not in metrics  # the batch has a slab and a molecule
    assert metrics["equivariance/max_rel_error"] == pytest.approx(
        max(metrics[f"equivariance/{c}_rel_error"] for c in CHECKS)
    )
    lines = [json.loads(x) for x in (tmp_path / "equivariance.jsonl").read_text().splitlines()]
    assert [r["when"] for r in lines] == ["validation", "validation", "fit_end"]
    assert all(r["float64"] for r in lines) and model.dtype == torch.float32  # a float64 copy, not the model
    assert callback.last_errors == {k: v for k, v in lines[-1].items() if k.startswith("equivariance/")}


def test_broken_potential_warns_naming_the_check(tmp_path):
    torch.manual_seed(0)
    callback = PotentialEquivarianceCallback(float64=True, at_fit_end=False)
    trainer = tiny_trainer(tmp_path, [callback], max_epochs=1, inference_mode=False)
    with pytest.warns(
        EquivarianceWarning, match=r"\((energy|forces|translation|periodic_wrap|lattice_shift)\) exceeds"
    ):
        trainer.fit(ToyPotential(symmetry_breaking=True), loader(1), loader(1))


def test_module_without_predict_is_rejected(tmp_path):
    trainer = tiny_trainer(tmp_path, [PotentialEquivarianceCallback()], max_steps=1)
    with pytest.raises(TypeError, match="predict"):
        trainer.fit(ToyTask(), [], [])


def test_graph_equivariance_callback_points_a_potential_to_its_own_callback(tmp_path):
    trainer = tiny_trainer(tmp_path, [EquivarianceCallback()], max_epochs=1, inference_mode=False)
    with pytest.raises(TypeError, match="callbacks=potential"):
        trainer.fit(ToyPotential(), loader(1), loader(1))
