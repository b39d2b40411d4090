"""A small equivariant interatomic potential and periodic/open structures for the potential-callback tests.

``ToyPotential`` has the interface of ``e3lab.models.InteratomicPotential`` that the callbacks use:
``predict(batch, forces, stress, create_graph) -> {"energy", "atomic_energy", "forces", "stress"}``,
``cutoff``, ``chemical_symbols``, a backbone ``net`` with ``irreps_in``/``irreps_out`` and the stage
ranges, and ``"energy"``/``"forces"`` profiler ranges. Its energy is a three-body function of the
neighbours (squared norms of summed ``R(r) Y(r)`` per neighbour species), invariant by construction.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.profiler import record_function
from torch.utils.data import DataLoader

from e3lab import o3
from e3lab.graph import AtomsBatch, AtomsGraph, collate_atoms, neighbor_list
from e3lab.math import soft_one_hot_linspace
from e3lab.models import InteratomicPotential
from e3lab.nn import FullyConnectedNet

SYMBOLS = ("Cu", "Au")
CUTOFF = 3.0


class _ScaledBackward(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by 1.25: a wrong custom backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return 1.25 * grad


def wrong_backward_hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    """A forward hook that keeps a module's output and scales the gradient flowing back through it."""
    return _ScaledBackward.apply(output)


class ToyBackbone(torch.nn.Module):
    """``x: [N, len(SYMBOLS)]`` one-hot species, ``edge_vec: [E, 3]`` -> ``[N, 12]`` invariants."""

    def __init__(self, cutoff: float = CUTOFF, wrong_backward: bool = False, symmetry_breaking: bool = False):
        super().__init__()
        self.irreps_in = o3.Irreps(f"{len(SYMBOLS)}x0e")
        self.irreps_out = o3.Irreps("12x0e")
        self.irreps_sh = o3.Irreps.spherical_harmonics(2)
        self.cutoff = cutoff
        self.wrong_backward = wrong_backward
        self.symmetry_breaking = symmetry_breaking
        self.tp = o3.FullyConnectedTensorProduct(
            self.irreps_in, self.irreps_sh, "4x0e + 4x1o + 4x2e", shared_weights=False
        )
        self.fc = FullyConnectedNet([8, 16, self.tp.weight_numel], torch.nn.functional.silu)

    def forward(self, x, pos, batch, edge_index, edge_vec):
        src, dst = edge_index
        with record_function("spherical_harmonics"):
            sh = o3.spherical_harmonics(self.irreps_sh, edge_vec, normalize=True, normalization="component")
        with record_function("radial_embedding"):
            length = edge_vec.norm(dim=1)
            emb = soft_one_hot_linspace(length, 0.0, self.cutoff, 8, basis="smooth_finite", cutoff=True)
            if self.wrong_backward:
                emb = _ScaledBackward.apply(emb)
        with record_function("radial_mlp"):
            weight = self.fc(emb * 8**0.5)
        with record_function("tensor_product"):
            messages = self.tp(x[src], sh, weight)
        with record_function("scatter"):
            h = messages.new_zeros(pos.shape[0], messages.shape[1]).index_add(0, dst, messages)
        with record_function("gate"):
            vectors = h[:, 4:16].reshape(-1, 4, 3).pow(2).sum(-1)
            tensors = h[:, 16:].reshape(-1, 4, 5).pow(2).sum(-1)
            out = torch.cat([h[:, :4], vectors, tensors], dim=1)
        if self.symmetry_breaking:
            out = out + 0.1 * pos[:, :1]
        return out


class ToyPotential(pl.LightningModule):
    """Species one-hot -> :class:`ToyBackbone` -> linear per-atom energy; forces ``-dE/dpos``, stress
    ``(1/V) dE/d(strain)``; trained on energy per atom and forces (MSE)."""

    def __init__(self, wrong_backward: bool = False, symmetry_breaking: bool = False, lr: float = 1e-2):
        super().__init__()
        self.cutoff = CUTOFF
        self.chemical_symbols = list(SYMBOLS)
        self.net = ToyBackbone(CUTOFF, wrong_backward, symmetry_breaking)
        self.readout = torch.nn.Linear(self.net.irreps_out.dim, 1)
        self.lr = lr

    def predict(
        self, batch: AtomsBatch, forces: bool = True, stress: bool = False, create_graph: bool = False
    ):
        pos, cell = batch.pos, batch.cell
        inputs = []
        if forces:
            pos = pos.detach().requires_grad_(True)
            inputs.append(pos)
        if stress:
            strain = torch.zeros_like(cell, requires_grad=True)
            inputs.append(strain)
            eps = torch.eye(3, dtype=cell.dtype, device=cell.device) + (strain + strain.transpose(1, 2)) / 2
            pos = torch.einsum("nc,ncd->nd", pos, eps[batch.batch])
            cell = cell @ eps
        with record_function("energy"):
            x = torch.nn.functional.one_hot(batch.species, len(SYMBOLS)).to(pos.dtype)
            h = self.net(x, pos, batch.batch, batch.edge_index, batch.edge_vectors(pos, cell))
            atomic = self.readout(h).squeeze(-1)
            energy = atomic.new_zeros(batch.num_graphs).index_add(0, batch.batch, atomic)
        out = {"energy": energy, "atomic_energy": atomic}
        if inputs:
            with record_function("forces"):
                grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph)
            if forces:
                out["forces"] = -grads[0]
            if stress:
                out["stress"] = grads[-1] / torch.linalg.det(cell).abs()[:, None, None]
        return out

    def _loss(self, batch: AtomsBatch, create_graph: bool) -> torch.Tensor:
        out = self.predict(batch, forces=True, create_graph=create_graph)
        per_atom = (out["energy"] - batch.energy) / batch.num_atoms
        return per_atom.pow(2).mean() + (out["forces"] - batch.forces).pow(2).mean()

    def training_step(self, batch: AtomsBatch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, create_graph=True)
        self.log("train/loss", loss, batch_size=batch.num_graphs)
        return loss

    def validation_step(self, batch: AtomsBatch, batch_idx: int) -> None:
        with torch.enable_grad():
            self.log("val/loss", self._loss(batch, create_graph=False).detach(), batch_size=batch.num_graphs)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def real_potential(seed: int = 0) -> InteratomicPotential:
    """``e3lab.models.InteratomicPotential`` with a 2-layer NequIP-style backbone of 4 features (Cu, Au)."""
    torch.manual_seed(seed)
    net = {
        "_target_": "e3lab.nn.NequIPNet",
        "irreps_in": f"{len(SYMBOLS)}x0e",
        "irreps_out": "1x0e",
        "num_layers": 2,
        "lmax": 1,
        "num_features": 4,
        "max_radius": CUTOFF,
        "avg_num_neighbors": 8.0,
        "radial_number": 4,
        "radial_hidden": 8,
    }
    return InteratomicPotential(
        net=net, chemical_symbols=list(SYMBOLS), cutoff=CUTOFF, per_element_energy_shift=[-3.5, -3.8]
    )


def _graph(pos, species, cell, pbc, rattle_seed: int) -> AtomsGraph:
    generator = torch.Generator().manual_seed(rattle_seed)
    pos = torch.as_tensor(pos, dtype=torch.get_default_dtype())
    pos = pos + 0.1 * torch.randn(pos.shape, generator=generator, dtype=torch.float64).to(pos)
    cell = torch.as_tensor(cell, dtype=pos.dtype)
    pbc = torch.as_tensor(pbc)
    edge_index, edge_shift = neighbor_list(pos, CUTOFF, cell=cell, pbc=pbc)
    energy = torch.zeros((), dtype=pos.dtype)
    return AtomsGraph(
        pos,
        torch.as_tensor(species),
        cell,
        pbc,
        edge_index,
        edge_shift.to(pos),
        energy,
        torch.zeros_like(pos),
    )


def structures(kinds: tuple[str, ...] = ("bulk", "slab", "molecule"), seed: int = 0) -> AtomsBatch:
    """A batch of small rattled structures with zero targets: ``bulk`` (a triclinic 2-atom cell smaller
    than twice the cutoff, periodic in 3D), ``slab`` (periodic in x and y, zero third cell vector),
    ``molecule``."""
    a = 3.6 / 2  # fcc primitive vectors, a = 3.6 A
    make = {
        "bulk": lambda s: _graph(
            [[0.0, 0.0, 0.0], [a, a, 0.0]], [0, 1], [[0, a, a], [a, 0, a], [2 * a, 2 * a, 0]], [True] * 3, s
        ),
        "slab": lambda s: _graph(
            [[0.0, 0.0, 0.0], [1.8, 1.8, 0.0], [0.0, 1.8, 1.8], [1.8, 0.0, 1.8]],
            [0, 0, 1, 0],
            [[3.6, 0, 0], [0.9, 3.6, 0], [0, 0, 0]],
            [True, True, False],
            s,
        ),
        "molecule": lambda s: _graph(
            [[0.0, 0.0, 0.0], [2.2, 0.0, 0.0], [0.0, 2.4, 0.3], [1.1, 1.0, 1.9]],
            [1, 0, 0, 1],
            torch.zeros(3, 3),
            [False] * 3,
            s,
        ),
    }
    return collate_atoms([make[kind](seed + k) for k, kind in enumerate(kinds)])


def _identity(batch: AtomsBatch) -> AtomsBatch:
    return batch


def loader(num: int, kinds: tuple[str, ...] = ("bulk", "slab", "molecule")) -> DataLoader:
    """``num`` fixed batches of :func:`structures` (energies and forces labelled by a fixed teacher)."""
    torch.manual_seed(123)
    teacher = ToyPotential()
    batches = []
    for k in range(num):
        batch = structures(kinds, seed=10 * k)
        out = teacher.predict(batch)
        batch.energy, batch.forces = out["energy"].detach(), out["forces"].detach()
        batches.append(batch)
    return DataLoader(batches, batch_size=None, collate_fn=_identity)
