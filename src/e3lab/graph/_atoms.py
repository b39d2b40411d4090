"""Structures of atoms (periodic or not) and batches of them: the data contract of interatomic potentials.

An ``AtomsGraph`` is one structure with its neighbour list; an ``AtomsBatch`` is several structures as one
disjoint graph, made by :func:`collate_atoms`. Edges carry an integer cell shift each, so that the edge
vector of ``j -> i`` (``edge_index[0] = j``, ``edge_index[1] = i``) is

    ``pos[i] - pos[j] + edge_shift @ cell``

computed by :meth:`AtomsBatch.edge_vectors` inside the model, where gradients reach positions and cell.
Shapes and indices are checked once, where a batch is made (:func:`collate_atoms`); moving a batch with
``.to()`` checks nothing again, so the training step runs without host syncs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["AtomsBatch", "AtomsGraph", "collate_atoms"]

_TARGETS = ("energy", "forces", "stress")


def _shape_error(name: str, tensor: Tensor, expected: str) -> ValueError:
    return ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {expected}")


@dataclass(eq=False)
class AtomsGraph:
    """One structure of ``n`` atoms and its ``e`` edges.

    Attributes:
        pos: [n, 3] Cartesian positions (A).
        species: [n] int64 type index of each atom (position in the config's ``chemical_symbols``).
        cell: [3, 3] lattice vectors as rows (A); zeros for a molecule.
        pbc: [3] bool, periodic along each lattice vector.
        edge_index: [2, e] int64 (source j, target i), local indices.
        edge_shift: [e, 3] integer cell shifts (stored in ``pos``'s dtype): the source's image sits at
            ``pos[j] - edge_shift @ cell``.
        energy: [] total energy (eV), optional.
        forces: [n, 3] (eV/A), optional.
        stress: [3, 3] (eV/A^3, ASE's sign: ``(1/V) dE/d(strain)``), optional.
    """

    pos: Tensor
    species: Tensor
    cell: Tensor
    pbc: Tensor
    edge_index: Tensor
    edge_shift: Tensor
    energy: Tensor | None = None
    forces: Tensor | None = None
    stress: Tensor | None = None

    def __post_init__(self) -> None:
        check_atoms_graph(self)

    @property
    def num_atoms(self) -> int:
        return self.pos.shape[0]


def check_atoms_graph(graph: AtomsGraph) -> None:
    """Raise ValueError/TypeError naming the field when ``graph``'s tensors do not fit together."""
    n = graph.pos.shape[0] if graph.pos.dim() == 2 else -1
    if graph.pos.dim() != 2 or graph.pos.shape[1] != 3:
        raise _shape_error("pos", graph.pos, "[n, 3]")
    if not graph.pos.is_floating_point():
        raise TypeError(f"pos must be floating point, got {graph.pos.dtype}")
    if graph.species.shape != (n,) or graph.species.dtype != torch.long:
        raise ValueError(
            f"species must be an int64 tensor of shape [{n}], got {graph.species.dtype} "
            f"{tuple(graph.species.shape)}"
        )
    if graph.cell.shape != (3, 3):
        raise _shape_error("cell", graph.cell, "[3, 3]")
    if graph.pbc.shape != (3,) or graph.pbc.dtype != torch.bool:
        raise ValueError(
            f"pbc must be a bool tensor of shape [3], got {graph.pbc.dtype} {tuple(graph.pbc.shape)}"
        )
    e = graph.edge_index.shape[1] if graph.edge_index.dim() == 2 else -1
    if graph.edge_index.dim() != 2 or graph.edge_index.shape[0] != 2 or graph.edge_index.dtype != torch.long:
        raise ValueError(
            f"edge_index must be an int64 [2, e] tensor, got {graph.edge_index.dtype} "
            f"{tuple(graph.edge_index.shape)}"
        )
    if graph.edge_shift.shape != (e, 3):
        raise _shape_error("edge_shift", graph.edge_shift, f"[{e}, 3] (one shift per edge)")
    if e and (int(graph.edge_index.min()) < 0 or int(graph.edge_index.max()) >= n):
        raise ValueError(
            f"edge_index spans [{int(graph.edge_index.min())}, {int(graph.edge_index.max())}] "
            f"but there are {n} atoms"
        )
    for name, expected in (("energy", ()), ("forces", (n, 3)), ("stress", (3, 3))):
        value = getattr(graph, name)
        if value is not None and tuple(value.shape) != expected:
            raise _shape_error(name, value, str(list(expected)))


@dataclass(eq=False)
class AtomsBatch:
    """``B`` structures as one disjoint graph of ``N`` atoms and ``E`` edges.

    Attributes:
        pos: [N, 3]; species: [N] int64; batch: [N] int64 structure of each atom (sorted);
        ptr: [B + 1] int64 atom offsets; cell: [B, 3, 3]; pbc: [B, 3] bool;
        edge_index: [2, E] global indices; edge_shift: [E, 3] integer shifts in ``pos``'s dtype;
        energy: [B] | None; forces: [N, 3] | None; stress: [B, 3, 3] | None.
    """

    pos: Tensor
    species: Tensor
    batch: Tensor
    ptr: Tensor
    cell: Tensor
    pbc: Tensor
    edge_index: Tensor
    edge_shift: Tensor
    energy: Tensor | None = None
    forces: Tensor | None = None
    stress: Tensor | None = None

    @property
    def num_graphs(self) -> int:
        return self.ptr.numel() - 1

    def __len__(self) -> int:
        return self.num_graphs

    @property
    def num_atoms(self) -> Tensor:
        """[B] atoms per structure."""
        return self.ptr.diff()

    def edge_vectors(self, pos: Tensor | None = None, cell: Tensor | None = None) -> Tensor:
        """``[E, 3]`` vectors ``pos[i] - pos[j] + edge_shift @ cell[b]`` of the edges ``j -> i``.

        ``pos`` ([N, 3]) and ``cell`` ([B, 3, 3]) default to the batch's own; pass strained or
        gradient-tracking copies to differentiate through them.
        """
        pos = self.pos if pos is None else pos
        cell = self.cell if cell is None else cell
        src, dst = self.edge_index
        shift = torch.einsum("ek,ekc->ec", self.edge_shift, cell[self.batch[src]])
        return pos[dst] - pos[src] + shift

    def to(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        non_blocking: bool = False,
    ) -> AtomsBatch:
        """A copy on ``device`` (floating tensors cast to ``dtype`` when given); nothing is re-checked."""

        def move(tensor: Tensor | None) -> Tensor | None:
            if tensor is None:
                return None
            cast = dtype if dtype is not None and tensor.is_floating_point() else None
            return tensor.to(device=device, dtype=cast, non_blocking=non_blocking)

        return dataclasses.replace(
            self, **{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)}
        )

    def graph(self, i: int) -> AtomsGraph:
        """Structure ``i`` alone, with local edge indices (the inverse of :func:`collate_atoms`)."""
        if not -self.num_graphs <= i < self.num_graphs:
            raise IndexError(f"structure index {i} out of range for a batch of {self.num_graphs}")
        i %= self.num_graphs
        lo, hi = int(self.ptr[i]), int(self.ptr[i + 1])
        mine = (self.edge_index[1] >= lo) & (self.edge_index[1] < hi)
        return AtomsGraph(
            pos=self.pos[lo:hi],
            species=self.species[lo:hi],
            cell=self.cell[i],
            pbc=self.pbc[i],
            edge_index=self.edge_index[:, mine] - lo,
            edge_shift=self.edge_shift[mine],
            energy=None if self.energy is None else self.energy[i],
            forces=None if self.forces is None else self.forces[lo:hi],
            stress=None if self.stress is None else self.stress[i],
        )


def collate_atoms(graphs: Sequence[AtomsGraph]) -> AtomsBatch:
    """Concatenate structures into one :class:`AtomsBatch` (edges offset by each structure's first atom).

    A target (energy, forces, stress) is kept when every structure has it and dropped (``None``) when
    none has it; a mix raises ValueError naming the first structure without it.
    """
    if len(graphs) == 0:
        raise ValueError("empty batch: collate_atoms needs at least one AtomsGraph")
    for k, g in enumerate(graphs):
        if not isinstance(g, AtomsGraph):
            raise TypeError(f"graphs[{k}] is a {type(g).__name__}, expected an e3lab.graph.AtomsGraph")
    device = graphs[0].pos.device
    sizes = torch.tensor([g.num_atoms for g in graphs], device=device)
    ptr = torch.cat([sizes.new_zeros(1), torch.cumsum(sizes, 0)])
    num_edges = torch.tensor([g.edge_index.shape[1] for g in graphs], device=device)
    edge_index = torch.cat([g.edge_index for g in graphs], dim=1) + torch.repeat_interleave(
        ptr[:-1], num_edges
    )
    targets = {}
    for name in _TARGETS:
        values = [getattr(g, name) for g in graphs]
        present = [v is not None for v in values]
        if any(present) and not all(present):
            raise ValueError(
                f"structure {present.index(False)} has no {name} but others do; give every structure a "
                f"{name} or none"
            )
        if all(present):
            targets[name] = torch.cat(values) if name == "forces" else torch.stack(values)
    return AtomsBatch(
        pos=torch.cat([g.pos for g in graphs]),
        species=torch.cat([g.species for g in graphs]),
        batch=torch.repeat_interleave(torch.arange(len(graphs), device=device), sizes),
        ptr=ptr,
        cell=torch.stack([g.cell for g in graphs]),
        pbc=torch.stack([g.pbc for g in graphs]),
        edge_index=edge_index,
        edge_shift=torch.cat([g.edge_shift for g in graphs]),
        **targets,
    )
