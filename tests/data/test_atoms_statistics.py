"""Training-set statistics against hand computations; computed once per training split and cached."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from e3lab.data import atoms_statistics
from e3lab.graph import AtomsGraph


def structure(species: list[int], energy: float, forces: list[list[float]], num_edges: int) -> AtomsGraph:
    n = len(species)
    edges = torch.tensor([[k % n for k in range(num_edges)], [(k + 1) % n for k in range(num_edges)]])
    return AtomsGraph(
        pos=torch.rand(n, 3, dtype=torch.float64),
        species=torch.tensor(species),
        cell=torch.zeros(3, 3, dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
        edge_index=edges.reshape(2, num_edges),
        edge_shift=torch.zeros(num_edges, 3, dtype=torch.float64),
        energy=torch.tensor(energy, dtype=torch.float64),
        forces=torch.tensor(forces, dtype=torch.float64),
    )


def hand_set() -> list[AtomsGraph]:
    """Energies exactly 2 Cu * -3 + ... : shifts Cu = -3, Au = -5 (species 0 = Cu, 1 = Au)."""
    return [
        structure([0, 0], -6.0, [[1, 0, 0], [-1, 0, 0]], 2),
        structure([0, 1], -8.0, [[0, 2, 0], [0, -2, 0]], 4),
        structure([1, 1, 1], -15.0, [[0, 0, 0], [0, 0, 0], [0, 0, 3]], 3),
        structure([0, 1, 0, 1], -16.0, [[1, 1, 1], [0, 0, 0], [0, 0, 0], [-1, -1, -1]], 7),
    ]


def test_statistics_by_hand() -> None:
    stats = atoms_statistics(hand_set(), ["Cu", "Au"])
    assert stats["num_structures"] == 4 and stats["num_atoms_mean"] == 11 / 4
    assert stats["avg_num_neighbors"] == 16 / 11
    np.testing.assert_allclose(stats["per_element_energy_shift"], [-3.0, -5.0], atol=1e-12)
    assert stats["per_atom_energy_mean"] == pytest.approx(-4.0)  # (-3, -4, -5, -4)
    assert stats["per_atom_energy_std"] == pytest.approx(math.sqrt(0.5))
    assert stats["per_atom_energy_residual_rms"] == pytest.approx(0.0, abs=1e-12)
    # 11 atoms x 3 components; squares: 1+1, 4+4, 9, 3+3 -> 25
    assert stats["force_rms"] == pytest.approx(math.sqrt(25 / 33))
    # Cu atoms (5): 1+1+4+3 = 9 over 15 components; Au atoms (6): 4+9+3 = 16 over 18
    np.testing.assert_allclose(stats["per_element_force_rms"], [math.sqrt(9 / 15), math.sqrt(16 / 18)])


def test_energy_shifts_are_least_squares() -> None:
    graphs = hand_set()
    noise = [0.3, -0.2, 0.1, 0.25]
    for g, e in zip(graphs, noise, strict=True):
        g.energy = g.energy + e
    stats = atoms_statistics(graphs, ["Cu", "Au"])
    counts = np.array([[2, 0], [1, 1], [0, 3], [2, 2]], dtype=float)
    energy = np.array([-6.0, -8.0, -15.0, -16.0]) + noise
    expected, *_ = np.linalg.lstsq(counts, energy, rcond=None)
    np.testing.assert_allclose(stats["per_element_energy_shift"], expected, rtol=1e-12)
    residual = (energy - counts @ expected) / counts.sum(1)
    assert stats["per_atom_energy_residual_rms"] == pytest.approx(np.sqrt(np.mean(residual**2)))


def test_element_absent_from_training_gets_the_mean_and_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"\['Ag'\] do not occur in the training split"):
        stats = atoms_statistics(hand_set(), ["Cu", "Au", "Ag"])
    shifts = stats["per_element_energy_shift"]
    np.testing.assert_allclose(shifts[:2], [-3.0, -5.0], atol=1e-12)
    assert shifts[2] == pytest.approx(stats["per_atom_energy_mean"])
    assert stats["per_element_force_rms"][2] == stats["force_rms"]


def test_collinear_compositions_warn() -> None:
    graphs = [structure([0, 1], -8.0, [[0, 0, 0]] * 2, 1), structure([0, 1, 0, 1], -16.5, [[0, 0, 0]] * 4, 1)]
    with pytest.warns(UserWarning, match="do not determine one energy shift per element"):
        stats = atoms_statistics(graphs, ["Cu", "Au"])
    assert all(math.isfinite(s) for s in stats["per_element_energy_shift"])


def test_no_targets_no_target_statistics() -> None:
    graphs = hand_set()
    for g in graphs:
        g.energy = None
        g.forces = None
    stats = atoms_statistics(graphs, ["Cu", "Au"])
    assert set(stats) == {"num_structures", "num_atoms_mean", "avg_num_neighbors"}
    with pytest.raises(ValueError, match="train split is empty"):
        atoms_statistics([], ["Cu"])


def test_datamodule_statistics_use_the_training_split_and_are_cached(tmp_path, monkeypatch) -> None:
    from tests.data.atoms_files import write_random_set

    import e3lab.data._atoms_datamodule as datamodule_module
    from e3lab.data import AtomsDataModule

    path = write_random_set(tmp_path / "set.extxyz", 12)
    options = {"chemical_symbols": ["Cu", "Au"], "cutoff": 3.0, "cache_dir": str(tmp_path), "train": 8}
    dm = AtomsDataModule(str(path), val=2, test=2, **options)
    stats = dm.statistics()  # before setup / fit
    dm.setup()
    assert stats == atoms_statistics(list(dm._datasets["train"]), ["Cu", "Au"])
    assert stats != atoms_statistics(list(dm._datasets["test"]), ["Cu", "Au"])
    assert len(list(tmp_path.glob("stats_*.json"))) == 1
    monkeypatch.setattr(datamodule_module, "atoms_statistics", lambda *a: pytest.fail("recomputed"))
    again = AtomsDataModule(str(path), val=2, test=2, **options).statistics()
    assert again == stats  # JSON round-trips floats exactly
    other_seed = AtomsDataModule(str(path), val=2, test=2, seed=3, **options)
    with pytest.raises(pytest.fail.Exception, match="recomputed"):
        other_seed.statistics()  # another training split: not served from the cache
