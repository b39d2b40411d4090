"""run_md: NVE conserves energy with a real potential; broken dynamics stop with the last good frame saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read

from e3lab.calculator import E3labCalculator, MDSettings, StabilityGuard, plot_md_energies, run_md

from ._potentials import periodic_structure, tiny_potential


def _copper(seed: int = 0):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=seed)
    return atoms


def test_nve_with_emt_conserves_energy_and_writes_everything(tmp_path):
    atoms = _copper()
    atoms.calc = EMT()
    settings = MDSettings(steps=40, timestep_fs=2.0, temperature=300, trajectory_every=10)
    result = run_md(atoms, settings, tmp_path, progress=False)
    assert result.blow_up is None and result.steps_done == 40 and len(result.time_fs) == 41
    assert result.time_fs[-1] == pytest.approx(80.0)
    total = result.total / len(atoms)
    assert np.ptp(total) < 2e-3  # eV/atom over 80 fs; the kinetic energy alone swings far more:
    assert np.ptp(np.asarray(result.kinetic) / len(atoms)) > 5 * np.ptp(total)
    assert result.temperature[0] == pytest.approx(300, rel=0.5)
    assert len(read(tmp_path / "trajectory.traj", index=":")) == 5
    assert result.steps_per_s > 0 and result.ns_per_day == pytest.approx(result.steps_per_s * 2.0 * 0.0864)
    plot = plot_md_energies(result, tmp_path / "energy.png", reference=(np.array([0.0, 20.0]), np.zeros(2)))
    assert plot.stat().st_size > 10_000


def test_nvt_langevin_moves_towards_the_target_temperature(tmp_path):
    atoms = _copper(seed=1)
    atoms.calc = EMT()
    settings = MDSettings(ensemble="nvt", steps=60, timestep_fs=2.0, temperature=900, friction_per_fs=0.05)
    result = run_md(atoms, settings, tmp_path, progress=False)
    assert result.blow_up is None
    # started at 900 K, equipartition halves it under NVE; the thermostat keeps it well above that
    assert np.mean(result.temperature[-20:]) > 550


def test_a_broken_potential_stops_and_keeps_the_last_good_frame(tmp_path):
    broken = tiny_potential(per_element_energy_scale=-300.0)  # huge, wrong forces: atoms are flung about
    atoms = periodic_structure(seed=0)
    atoms.calc = E3labCalculator(broken, skin=0.5)
    result = run_md(atoms, MDSettings(steps=200, timestep_fs=2.0), tmp_path, progress=False)
    assert result.blow_up is not None and result.steps_done < 200
    assert "jumped" in result.blow_up or "apart" in result.blow_up or "failed" in result.blow_up
    last = read(result.last_good_frame)
    assert len(last) == len(atoms)
    assert np.isfinite(last.get_potential_energy())


def test_non_finite_energies_stop_at_once(tmp_path):
    broken = tiny_potential()
    with torch.no_grad():
        broken.energy_shift.fill_(float("nan"))
    atoms = periodic_structure(seed=0)
    atoms.calc = E3labCalculator(broken)
    result = run_md(atoms, MDSettings(steps=5), tmp_path, progress=False)
    assert result.blow_up is not None and "non-finite energy" in result.blow_up
    assert result.last_good_frame is None  # nothing good to keep: step 0 itself is broken


def test_guard_names_close_atoms_and_energy_jumps():
    atoms = _copper()
    atoms.positions[1] = atoms.positions[0] + [0.3, 0, 0]
    guard = StabilityGuard(min_distance=0.5, max_energy_jump=0.05)
    atoms.calc = EMT()
    assert "0.300 A apart" in guard.check(atoms, 1.0, 1.0, np.zeros((len(atoms), 3)))
    fine = _copper()
    assert guard.check(fine, 0.0, 1.0, np.zeros((len(fine), 3))) is None
    assert "jumped" in guard.check(fine, 0.06 * len(fine), 1.0, np.zeros((len(fine), 3)))
    forces = np.zeros((len(fine), 3))
    forces[4, 1] = np.nan
    assert "non-finite forces on 1 atom(s) (first: atom 4)" in guard.check(fine, 0.0, 1.0, forces)


def test_settings_refuse_bad_values():
    with pytest.raises(ValueError, match="ensemble='npt'"):
        MDSettings(ensemble="npt")
    with pytest.raises(ValueError, match="steps=0"):
        MDSettings(steps=0)
    with pytest.raises(ValueError, match="timestep_fs=-1"):
        MDSettings(timestep_fs=-1)
