"""Small trained-looking potentials, their checkpoints and periodic structures for the calculator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
from ase import Atoms

from e3lab.models import InteratomicPotential

SYMBOLS = ("Cu", "Au")
CUTOFF = 3.5


def tiny_potential(
    seed: int = 0, dtype: torch.dtype = torch.float64, **overrides: Any
) -> InteratomicPotential:
    """A 2-layer NequIP-style potential of Cu and Au with random weights (energies of a few eV)."""
    torch.manual_seed(seed)
    net = {
        "_target_": "e3lab.nn.NequIPNet",
        "irreps_in": f"{len(SYMBOLS)}x0e",
        "irreps_out": "1x0e",
        "num_layers": 2,
        "lmax": 1,
        "num_features": 4,
        "max_radius": CUTOFF,
        "avg_num_neighbors": 10.0,
        "radial_number": 4,
        "radial_hidden": 8,
    }
    kwargs = {"per_element_energy_shift": [-3.5, -3.8], "per_element_energy_scale": 0.5, **overrides}
    model = InteratomicPotential(net=net, chemical_symbols=list(SYMBOLS), cutoff=CUTOFF, **kwargs)
    return model.to(dtype).eval()


def save_checkpoint(model: lightning.LightningModule, path: Path) -> Path:
    """Write ``model`` as train.py's checkpoints hold it (weights, hyperparameters, the e3lab model class)."""
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def periodic_structure(seed: int = 0, repeat: int = 2) -> Atoms:
    """A rattled fcc Cu/Au supercell in a sheared (triclinic) cell, atoms partly outside the cell."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    frac = np.concatenate([base + np.array(s) for s in np.ndindex(repeat, repeat, repeat)]) / repeat
    cell = 3.7 * repeat * np.array([[1.0, 0.0, 0.0], [0.15, 1.0, 0.0], [0.1, -0.1, 1.05]])
    symbols = rng.choice(list(SYMBOLS), size=len(frac))
    positions = frac @ cell + rng.normal(0, 0.1, (len(frac), 3)) - 0.6  # some atoms outside the cell
    return Atoms(symbols=list(symbols), positions=positions, cell=cell, pbc=True)


class PairPotential(torch.nn.Module):
    """A Morse pair potential with a smooth cutoff, forces by autograd: plain tensor code without value
    checks, so ``torch.export`` can trace it (for tests of the export machinery itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.hparams = {"chemical_symbols": list(SYMBOLS), "cutoff": CUTOFF}
        self.depth = torch.nn.Parameter(torch.tensor([0.3, 0.5], dtype=torch.float64))
        self.register_buffer("shift", torch.tensor([-3.5, -3.8], dtype=torch.float64))

    def predict(self, batch, forces=True, stress=False, create_graph=False):
        pos = batch.pos.detach().requires_grad_(True)
        with torch.enable_grad():
            r = batch.edge_vectors(pos).norm(dim=1)
            x = torch.exp(-1.5 * (r - 2.6))
            pair = self.depth[batch.species[batch.edge_index[0]]] * (x * x - 2 * x) * (1 - r / CUTOFF) ** 2
            atomic = self.shift[batch.species].index_add(0, batch.edge_index[1], 0.5 * pair)
            energy = atomic.new_zeros(batch.num_graphs).index_add(0, batch.batch, atomic)
            (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=create_graph)
        return {"energy": energy, "atomic_energy": atomic, "forces": -grad}
