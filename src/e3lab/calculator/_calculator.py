"""``E3labCalculator``: an ASE calculator around a trained e3lab potential.

Energies, per-atom energies, forces and (for 3D-periodic cells) stress come from the potential's
``predict``; the neighbour list is kept between calls with a skin (:class:`SkinNeighborList`). At run time
there is no Lightning trainer and no Hydra: only the network, in eval mode with frozen parameters.

Forces are derivatives of the energy, so autograd stays on for the positions (and the strain, for stress);
the parameters are frozen and no graph is kept for a second derivative (``create_graph=False``).
``torch.inference_mode`` cannot be used: it switches autograd off altogether.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from e3lab.calculator._export import ExportedPotential, export_potential
from e3lab.calculator._potential_checkpoint import load_potential, potential_symbols_cutoff
from e3lab.calculator._skin_neighbors import SkinNeighborList
from e3lab.graph import AtomsBatch

__all__ = ["E3labCalculator"]

FORMS = ("eager", "export", "aoti")


class E3labCalculator(Calculator):
    """ASE calculator of a trained potential: energy, free_energy, energies, forces, stress.

    Args:
        model: a potential (``e3lab.models.InteratomicPotential`` or any LightningModule with ``predict``
            and hyperparameters ``chemical_symbols`` and ``cutoff``); it is copied, not modified.
        device: where the network runs.
        dtype: floating dtype of the network and inputs (default: the model's own).
        skin: extra radius of the stored neighbour list (A); it is rebuilt when an atom moved more than
            ``skin / 2``. 0 rebuilds at every call.
        form: ``"eager"`` (the module as trained), ``"export"`` (``torch.export`` program) or ``"aoti"``
            (``torch.export`` then AOTInductor-compiled); a form that cannot be built raises, saying why.

    Use :meth:`from_checkpoint` for a ``train.py`` checkpoint.
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        model: Any,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        skin: float = 1.0,
        form: str = "eager",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if form not in FORMS:
            raise ValueError(f"form={form!r} is not one of {FORMS}")
        self.chemical_symbols, self.cutoff = potential_symbols_cutoff(model)
        self._type_index = {symbol: i for i, symbol in enumerate(self.chemical_symbols)}
        self.device = torch.device(device)
        model = copy.deepcopy(model)
        self.dtype = dtype or next(
            (p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32
        )
        model = model.to(device=self.device, dtype=self.dtype).eval()
        model.requires_grad_(False)
        self.model = model
        self.form = form
        self.neighbors = SkinNeighborList(self.cutoff, skin)
        self.min_distance = float("inf")  # shortest pair distance (A) of the last call, inf with no pair
        self._exported: dict[bool, ExportedPotential] = {}
        self._species_cache: tuple[bytes, torch.Tensor] | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        skin: float = 1.0,
        form: str = "eager",
        **kwargs: Any,
    ) -> E3labCalculator:
        """The calculator of the potential saved in ``path`` by ``train.py`` (nothing else is needed)."""
        return cls(
            load_potential(path, device="cpu"), device=device, dtype=dtype, skin=skin, form=form, **kwargs
        )

    # --- inputs -------------------------------------------------------------------------------------------
    def _species(self, atoms: Any) -> torch.Tensor:
        numbers = np.asarray(atoms.numbers)
        key = numbers.tobytes()
        if self._species_cache is None or self._species_cache[0] != key:
            symbols = atoms.get_chemical_symbols()
            missing = sorted(set(symbols) - set(self._type_index))
            if missing:
                raise ValueError(
                    f"the structure has element(s) {missing} that the potential was not trained on (it knows "
                    f"{self.chemical_symbols}); use a potential trained on data with these elements"
                )
            species = torch.tensor(
                [self._type_index[s] for s in symbols], dtype=torch.long, device=self.device
            )
            self._species_cache = (key, species)
        return self._species_cache[1]

    @staticmethod
    def _check_cell(atoms: Any) -> None:
        cell = np.asarray(atoms.cell.array, dtype=np.float64)
        pbc = np.asarray(atoms.pbc, dtype=bool)
        flat = [k for k in range(3) if pbc[k] and not np.any(cell[k])]
        if flat:
            raise ValueError(
                f"atoms.pbc={pbc.tolist()} is periodic along axis {flat} but the cell has no vector there "
                f"(cell={cell.tolist()}); set atoms.cell (e.g. atoms.set_cell(...)) or atoms.pbc=False"
            )
        if not np.isfinite(atoms.positions).all():
            raise ValueError("the structure has NaN or Inf positions")

    def atoms_to_batch(self, atoms: Any) -> AtomsBatch:
        """``atoms`` as a one-structure :class:`AtomsBatch` (positions, cell, pbc, neighbour list)."""
        self._check_cell(atoms)
        species = self._species(atoms)
        pos = torch.as_tensor(np.asarray(atoms.positions), dtype=self.dtype, device=self.device)
        cell = torch.as_tensor(np.asarray(atoms.cell.array), dtype=self.dtype, device=self.device)
        pbc = torch.as_tensor(np.asarray(atoms.pbc, dtype=bool), device=self.device)
        edge_index, edge_shift, length = self.neighbors(pos, cell, pbc)
        self.min_distance = float(length.min()) if length.numel() else float("inf")
        n = pos.shape[0]
        return AtomsBatch(
            pos=pos,
            species=species,
            batch=torch.zeros(n, dtype=torch.long, device=self.device),
            ptr=torch.tensor([0, n], device=self.device),
            cell=cell[None],
            pbc=pbc[None],
            edge_index=edge_index,
            edge_shift=edge_shift,
        )

    # --- evaluation ---------------------------------------------------------------------------------------
    def predict(self, batch: AtomsBatch, stress: bool) -> dict[str, torch.Tensor]:
        """``energy [B]``, ``atomic_energy [N]``, ``forces [N, 3]`` (and ``stress [B, 3, 3]``) of a batch."""
        if self.form == "eager":
            out = self.model.predict(batch, forces=True, stress=stress, create_graph=False)
            return {key: value.detach() for key, value in out.items() if value is not None}
        if stress not in self._exported:
            self._exported[stress] = export_potential(
                self.model, batch, stress=stress, aoti=self.form == "aoti"
            )
        return self._exported[stress](batch)

    def calculate(
        self,
        atoms: Any = None,
        properties: list[str] | tuple[str, ...] = ("energy",),
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        want_stress = "stress" in properties
        if want_stress and not (atoms.pbc.all() and abs(atoms.cell.volume) > 0):
            raise ValueError(
                f"stress needs a cell periodic in 3D (pbc={atoms.pbc.tolist()}, volume "
                f"{atoms.cell.volume:.3g} "
                "A^3); ask for energy and forces only"
            )
        out = self.predict(self.atoms_to_batch(atoms), stress=want_stress)
        energy = float(out["energy"][0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["atomic_energy"].double().cpu().numpy(),
            "forces": out["forces"].double().cpu().numpy(),
        }
        if want_stress:
            self.results["stress"] = full_3x3_to_voigt_6_stress(out["stress"][0].double().cpu().numpy())
