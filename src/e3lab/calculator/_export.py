"""Export a potential's energy-and-forces computation as one graph: a ``torch.export`` program, optionally
compiled ahead of time by AOTInductor.

Forces are ``-dE/dpos``, an autograd call that ``torch.export`` cannot trace by itself. So the whole
computation (forward, then the backward that gives the forces, and the strain derivative for stress) is
first unrolled into one graph of aten operations by ``make_fx`` with symbolic shapes; that graph has no
autograd call left and is exported with a dynamic number of atoms and edges. e3lab's fused tensor-product
kernels (native C on CPU, Triton on CUDA) stay in that graph as the custom operators ``e3lab::tp_product`` and
``e3lab::tp_product_grad``, so the exported program and the AOTInductor-compiled one call them as eager mode
does; the operators name their kernels by a key of this process, so a program is used where it was made (the
calculator builds it on first use). While tracing, the value checks of e3lab's modules are off
(``e3lab._value_checks``: symbolic tensors have no values to read; the calculator checked its inputs, and the
operators check their edge indices when they run).
"""

from __future__ import annotations

import contextlib
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from e3lab import _value_checks
from e3lab.graph import AtomsBatch

__all__ = ["ExportError", "ExportedPotential", "export_potential"]

_INPUTS = ("pos", "species", "batch", "ptr", "cell", "pbc", "edge_index", "edge_shift")


class ExportError(RuntimeError):
    """The potential cannot be turned into the requested form; the message says at which stage and why."""


class ExportedPotential:
    """A traced potential: ``__call__(batch) -> {"energy", "atomic_energy", "forces"[, "stress"]}``.

    Attributes:
        form: ``"export"`` or ``"aoti"``; program: what runs (an ``ExportedProgram``'s module or an
        AOTInductor package); keys: the output names, in order.
    """

    def __init__(self, form: str, program: Callable[..., Any], keys: tuple[str, ...]) -> None:
        self.form = form
        self.program = program
        self.keys = keys

    def __call__(self, batch: AtomsBatch) -> dict[str, Tensor]:
        outputs = self.program(*(getattr(batch, name) for name in _INPUTS))
        return dict(zip(self.keys, outputs, strict=True))


def _failure_site(err: BaseException) -> str:
    """`` at e3lab/<file>:<line> (`<code>`)`` of the deepest e3lab frame outside this module, or ``""``."""
    frames = [
        frame
        for frame in traceback.extract_tb(err.__traceback__)
        if "e3lab" in frame.filename and not frame.filename.endswith("calculator/_export.py")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    where = "e3lab" + frame.filename.replace("\\", "/").rsplit("/e3lab", 1)[-1]
    return f" at {where}:{frame.lineno} (`{(frame.line or '').strip()}`)"


@contextlib.contextmanager
def _tracing_switches() -> Iterator[None]:
    """Value checks off, duck shapes off, for the duration of a trace."""
    duck, checkable = torch.fx.experimental._config.use_duck_shape, _value_checks.values_checkable
    # without duck shapes, a size that equals another at trace time (128 atoms, 128 channels) stays its own
    # symbol instead of being unified with it, which would tie the number of atoms to a constant
    torch.fx.experimental._config.use_duck_shape = False
    _value_checks.values_checkable = lambda *tensors: False
    try:
        yield
    finally:
        torch.fx.experimental._config.use_duck_shape = duck
        _value_checks.values_checkable = checkable


def _traceable(model: Any, stress: bool, keys: tuple[str, ...]) -> Callable[..., tuple[Tensor, ...]]:
    def energy_forces(pos, species, batch, ptr, cell, pbc, edge_index, edge_shift):
        atoms = AtomsBatch(
            pos=pos,
            species=species,
            batch=batch,
            ptr=ptr,
            cell=cell,
            pbc=pbc,
            edge_index=edge_index,
            edge_shift=edge_shift,
        )
        with torch.enable_grad():
            out = model.predict(atoms, forces=True, stress=stress, create_graph=False)
        return tuple(out[key].detach() for key in keys)

    return energy_forces


def export_potential(
    model: Any, example: AtomsBatch, stress: bool = False, aoti: bool = False
) -> ExportedPotential:
    """Trace ``model.predict`` on ``example`` (one structure) into an exported program (``aoti``: compiled).

    The number of atoms and edges are dynamic (at least 2 each); the dtype, device and the single
    structure per call are fixed. Raises :class:`ExportError` naming the stage that failed and why.
    """
    from torch.fx.experimental.proxy_tensor import make_fx

    if example.num_graphs != 1:
        raise ExportError(
            f"export traces one structure per call; the example batch holds {example.num_graphs}"
        )
    if example.pos.shape[0] < 2 or example.edge_index.shape[1] < 2:
        raise ExportError(
            "export needs an example with at least 2 atoms and 2 edges (dynamic sizes start at 2)"
        )
    keys = ("energy", "atomic_energy", "forces", *(("stress",) if stress else ()))
    args = tuple(getattr(example, name) for name in _INPUTS)
    stage = "make_fx (unrolling forward and force backward into one graph)"
    try:
        with _tracing_switches():
            graph = make_fx(
                _traceable(model, stress, keys), tracing_mode="symbolic", _allow_non_fake_inputs=True
            )(*args)
        stage = "torch.export.export (dynamic atoms and edges)"
        atoms, edges = torch.export.Dim("atoms", min=2), torch.export.Dim("edges", min=2)
        dynamic = ({0: atoms}, {0: atoms}, {0: atoms}, None, None, None, {1: edges}, {0: edges})
        program = torch.export.export(graph, args, dynamic_shapes=dynamic, strict=False)
        if not aoti:
            return ExportedPotential("export", program.module(), keys)
        stage = "AOTInductor compilation (torch._inductor.aoti_compile_and_package)"
        with tempfile.TemporaryDirectory(prefix="e3lab_aoti_") as folder:  # loaded, the package can go
            package = str(Path(folder) / "potential.pt2")
            path = torch._inductor.aoti_compile_and_package(program, package_path=package)
            return ExportedPotential("aoti", torch._inductor.aoti_load_package(path), keys)
    except ExportError:
        raise
    except Exception as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        if "Constraints violated" in message:
            message += (
                " (the model turned the number of atoms or edges into a constant, e.g. by int() of a size "
                "; TORCH_LOGS=+dynamic shows where)"
            )
        raise ExportError(
            f"the potential cannot be exported: {stage} failed{_failure_site(err)} with "
            f"{type(err).__name__}: {message}; use form='eager'"
        ) from err
