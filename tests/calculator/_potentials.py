"""Small trained-looking potentials, their checkpoints and periodic structures for the calculator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
from ase import Atoms

from e3lab.models._potential_outputs import energy_forces_stress
from e3lab.nn import NequIPNet


class InteratomicPotential(lightning.LightningModule):
    """Stand-in until e3lab.models.InteratomicPotential lands: same predict() and hyperparameters."""

    def __init__(
        self, net, chemical_symbols, cutoff, per_element_energy_shift=0.0, per_element_energy_scale=1.0
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = NequIPNet(**{k: v for k, v in net.items() if k != "_target_"})
        n = len(chemical_symbols)
        shift = torch.as_tensor(per_element_energy_shift, dtype=torch.get_default_dtype()).expand(n).clone()
        self.register_buffer("energy_shift", shift)
        self.register_buffer("energy_scale", torch.full((n,), float(per_element_energy_scale)))

    def predict(self, batch, forces=True, stress=False, create_graph=False):
        one_hot = torch.nn.functional.one_hot(batch.species, len(self.hparams.chemical_symbols)).to(
            batch.pos.dtype
        )

        def atomic_energy(pos, edge_vec):
            e = self.net(one_hot, pos, batch.batch, batch.edge_index, edge_vec)[:, 0]
            return e * self.energy_scale[batch.species] + self.energy_shift[batch.species]

        with torch.enable_grad():
            return energy_forces_stress(atomic_energy, batch, forces, stress, create_graph)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["e3lab_model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"


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
