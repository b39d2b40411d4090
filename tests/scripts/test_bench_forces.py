"""The force-field models of ``scripts/bench_forces.py`` compute what they claim in every implementation:
energies invariant under rotations and inversion, forces equal to ``-dE/dpos`` by finite differences, and
cases that build and run (e3lab, e3nn, e3nn under ``make_fx`` + ``torch.compile``, cuEquivariance)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from e3lab import o3

IMPLS = ["e3lab", "e3nn", "cueq"]  # cuEquivariance on a CPU: its PyTorch fallback (a dev dependency)
NODES = 40


@pytest.fixture(scope="module")
def forces(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("bench_forces")


def _system(forces: ModuleType, impl: str, channelwise: bool):
    """A float64 model and a random graph: ``(model, x, pos, edge_index, irreps of x)``."""
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the peers' constants (Clebsch-Gordan, paths) in float64 too
    try:
        model = forces._Model(impl, channelwise).double()
    finally:
        torch.set_default_dtype(default)
    irreps = o3.Irreps(forces.UVU_IRREPS if channelwise else forces.SEED_LAYERS[0])
    pos = torch.rand(NODES, 3, dtype=torch.float64) * 2.0
    edge_index = forces.radius_graph(pos, forces.RADIUS)
    assert edge_index.shape[1] > 4 * NODES
    return model, torch.randn(NODES, irreps.dim, dtype=torch.float64), pos, edge_index, irreps


@pytest.mark.parametrize("channelwise", [False, True], ids=["seed", "uvu"])
@pytest.mark.parametrize("impl", IMPLS)
def test_energy_is_invariant_and_forces_are_its_negative_gradient(forces, impl, channelwise) -> None:
    model, x, pos, edge_index, irreps = _system(forces, impl, channelwise)
    energy_forces = forces._energy_and_forces(model, x, edge_index, create_graph=False)
    params = list(model.parameters())
    energy, force = energy_forces(pos.clone(), *params)
    for rotation in (o3.rand_matrix(dtype=torch.float64), -torch.eye(3, dtype=torch.float64)):
        moved = forces._energy_and_forces(model, x @ irreps.D_from_matrix(rotation).T, edge_index, False)
        energy_moved, force_moved = moved(pos @ rotation.T, *params)
        assert torch.allclose(energy_moved, energy, rtol=1e-10, atol=1e-10)
        assert torch.allclose(force_moved, force @ rotation.T, atol=1e-10)
    step = 1e-6
    for atom, axis in ((0, 0), (NODES // 2, 2)):
        shift = torch.zeros_like(pos)
        shift[atom, axis] = step
        plus, _ = energy_forces(pos + shift, *params)
        minus, _ = energy_forces(pos - shift, *params)
        assert float(-(plus - minus) / (2 * step)) == pytest.approx(float(force[atom, axis]), abs=1e-6)


@pytest.mark.parametrize("case", ["force_seed_1k", "force_uvu_1k"])
@pytest.mark.parametrize(
    "impl", [*IMPLS, *(pytest.param(i, marks=pytest.mark.slow) for i in ("e3lab-compiled", "e3nn-compiled"))]
)
def test_each_implementation_builds_a_case_that_runs(forces, impl, case) -> None:
    infer, step, edges = forces.build_force_case(impl, case, 60, torch.device("cpu"))
    assert edges > 60
    infer()
    step()
