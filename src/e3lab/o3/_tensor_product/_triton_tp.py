"""The Triton GPU path of :class:`TensorProduct` for the convolution shape (kernels: :mod:`._triton_source`).

It serves what the native CPU kernel serves (per-sample weights, weighted ``uvw``/``uvu`` paths, a second
operand of multiplicity-one terms such as spherical harmonics), on CUDA tensors. One kernel computes the
forward of every path for a block of rows, one the backward (recomputing the per-path products instead of
storing them). With ``edges`` it also gathers ``x[src]`` and sums into ``dst`` (atomic adds), so the gathered
inputs and the per-edge outputs of a convolution are never written to memory.

The kernel source is generated per tensor product (its Clebsch-Gordan non-zeros as constants), written once
into ``E3LAB_CACHE_DIR/triton`` (default ``~/.cache/e3lab/triton``) and imported; Triton compiles it at the
first call and autotunes the block sizes per size class of the row count (``E3LAB_TRITON_AUTOTUNE=0``: the
first candidate only, for a quick start).

``E3LAB_TRITON`` (or ``o3.set_triton``, see :mod:`._switches`): ``1`` (default) uses it for CUDA tensors when
Triton is importable, ``0`` never, ``interpret`` also for CPU tensors through Triton's interpreter (slow;
tests without a GPU).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
from types import ModuleType

import torch

from e3lab._native import cache_dir
from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._autograd import Edges
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._native_tp import _live_paths
from e3lab.o3._tensor_product._ops import apply_product, register
from e3lab.o3._tensor_product._switches import ENV_TRITON, triton_mode
from e3lab.o3._tensor_product._triton_second import second_order_source
from e3lab.o3._tensor_product._triton_source import (
    KernelSpec,
    PathSpec,
    TermSpec,
    module_source,
    next_power_of_two,
)
from e3lab.o3._wigner_3j import wigner_3j

__all__ = ["TritonTensorProduct"]

_DTYPES = (torch.float32, torch.float64)
MAX_SOURCE_LINES = 4000
ENV_AUTOTUNE = "E3LAB_TRITON_AUTOTUNE"
_modules: dict[str, ModuleType] = {}  # generated source digest -> imported module
_kernels: dict[tuple[str, bool], tuple] = {}  # (source, autotuned) -> (forward, backward)
_second: dict[tuple[str, bool], object] = {}  # (second-order source, autotuned) -> kernel


@functools.cache
def _triton_importable() -> bool:
    return importlib.util.find_spec("triton") is not None


def _spec(
    irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: list[Instruction]
) -> KernelSpec:
    def terms(irreps: Irreps) -> tuple[TermSpec, ...]:
        out, offset = [], 0
        for mul_ir in irreps:
            out.append(TermSpec(offset, mul_ir.mul, mul_ir.ir.dim))
            offset += mul_ir.dim
        return tuple(out)

    y_terms = terms(irreps_in2)
    paths = []
    for ins, weight_start in _live_paths(irreps_in1, irreps_in2, irreps_out, instructions):
        ir1, ir2, ir_out = irreps_in1[ins.i_in1].ir, irreps_in2[ins.i_in2].ir, irreps_out[ins.i_out].ir
        cg = wigner_3j(ir1.l, ir2.l, ir_out.l, dtype=torch.float64) * ins.path_weight
        nonzero = tuple((i, j, k, float(cg[i, j, k])) for i, j, k in cg.nonzero().tolist())
        paths.append(
            PathSpec(
                ins.i_in1,
                ins.i_out,
                y_terms[ins.i_in2].offset,
                weight_start,
                ins.connection_mode == "uvw",
                nonzero,
            )
        )
    weight_numel = sum(int(torch.Size(ins.path_shape).numel()) for ins in instructions if ins.has_weight)
    return KernelSpec(
        terms(irreps_in1), terms(irreps_out), tuple(paths), irreps_in1.dim, irreps_in2.dim, irreps_out.dim,
        weight_numel,
    )  # fmt: skip


def _load_module(source: str) -> ModuleType:
    """Write ``source`` under the cache folder (once, atomically) and import it."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    if digest not in _modules:
        folder = cache_dir("triton")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"tp_{digest}.py"
        if not path.exists():
            with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
                f.write(source)
            os.replace(f.name, path)
        module_spec = importlib.util.spec_from_file_location(f"e3lab_triton_tp_{digest}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        _modules[digest] = module
    return _modules[digest]


def _interpreted() -> bool:
    """Whether Triton runs kernels in its interpreter; ``interpret`` mode needs it (set before import)."""
    import triton

    interpreted = bool(triton.knobs.runtime.interpret)
    if triton_mode() == "interpret" and not interpreted:
        raise RuntimeError(
            f"{ENV_TRITON}=interpret needs Triton's interpreter: set TRITON_INTERPRET=1 before triton is "
            "imported (set_triton('interpret') does it when triton is not imported yet)"
        )
    return interpreted


def _configs(spec: KernelSpec) -> list[tuple[int, int, int]]:
    """Candidate ``(BLOCK_E, BC, num_warps)``, smallest tile first, each tile ``[BLOCK_E, channels]`` of a
    few hundred elements (128 threads); the benchmark's products compile without register spills with
    these (ptxas, sm_90a)."""
    if spec.blocked:
        widest = next_power_of_two(spec.max_mul)
        shapes = [(16, 16, 4), (8, 32, 4), (4, 64, 4), (8, 64, 8)]
        return sorted(
            {(e * c // min(c, widest), min(c, widest), w) for e, c, w in shapes},
            key=lambda t: (t[0] * t[1], t[1]),
        )
    widest = max(next_power_of_two(spec.outs[p.out].mul) for p in spec.paths)
    return sorted({(max(2, n // widest), 1, 4) for n in (256, 512)})


def second_order_configs(spec: KernelSpec) -> list[tuple[int, int, int]]:
    """Tile candidates of the second-order kernels: those of :func:`_configs`, but only the smallest for
    ``uvw`` products (ptxas, sm_90a: the seed product's slot-gradient kernel spills with 16-row tiles)."""
    return _configs(spec) if spec.blocked else _configs(spec)[:1]


class TritonTensorProduct:
    """One tensor product's generated Triton kernels; :meth:`apply` is differentiable."""

    def __init__(
        self, irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: list[Instruction]
    ) -> None:
        self.spec = _spec(irreps_in1, irreps_in2, irreps_out, instructions)
        self.source = module_source(self.spec)
        # buffers that some kernel leaves partly unwritten (or adds into) start at zero
        spec = self.spec
        self._out_gaps = spec.used_outs != set(range(len(spec.outs)))
        self._x_gaps = spec.used_terms != set(range(len(spec.terms))) or spec.mixed_terms
        self._y_gaps = spec.blocked or spec.used_y != set(range(spec.dim2))
        self.dim_out = spec.dim_out
        self.key = register(self)

    @property
    def compact(self) -> bool:
        """Whether the unrolled kernels are small enough to compile in seconds (``MAX_SOURCE_LINES``).

        ``uvw`` paths unroll over input channels: a MACE-sized per-edge product (32 channels) would be 13k
        lines and minutes of compilation, so it stays on the PyTorch kernel.
        """
        return len(self.source.splitlines()) <= MAX_SOURCE_LINES

    @staticmethod
    def usable(*tensors: torch.Tensor) -> bool:
        """Whether these inputs may take the Triton path now (see the module docstring), rows > 0; under
        ``torch.compile`` too (the kernels are custom operators there, :mod:`._ops`)."""
        mode = triton_mode()
        devices = ("cuda", "cpu") if mode == "interpret" else ("cuda",)
        return (
            mode != "0"
            and all(t.device.type in devices and t.dtype in _DTYPES for t in tensors)
            and tensors[0].shape[0] > 0
            and _triton_importable()
        )

    def apply(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, edges: Edges | None = None
    ) -> torch.Tensor:
        """``x: [Z, in1.dim]`` (or nodes ``[N, in1.dim]`` with ``edges``), ``y: [Z, in2.dim]``,
        ``weight: [Z, weight_numel]`` -> ``[Z, out.dim]``, or with ``edges = (src, dst, num_nodes)`` the sum
        of row ``e``'s product (of ``x[src[e]]``) into node ``dst[e]``: ``[num_nodes, out.dim]``.

        Differentiable to every order (:mod:`._autograd`).
        """
        return apply_product(self, (x, y, weight, None, None), edges)

    def kernels(self) -> tuple:
        """``(forward, backward)``: the generated kernels, autotuned on a GPU (one config interpreted).

        Shared by every product with the same generated source (layers of one network tune once).
        """
        tune = os.environ.get(ENV_AUTOTUNE, "1").strip().lower() not in ("0", "false", "off", "no")
        key = (self.source, tune)
        if key not in _kernels:
            import triton

            module = _load_module(self.source)
            if _interpreted():
                _kernels[key] = (module.forward, module.backward)
            else:
                candidates = _configs(self.spec)[: None if tune else 1]
                configs = [triton.Config({"BLOCK_E": e, "BC": c}, num_warps=w) for e, c, w in candidates]
                keys = ["rows_bucket", "GATHER", "SCATTER"]
                forward = triton.autotune(configs, key=keys, reset_to_zero=["out_ptr"])(module.forward)
                backward = triton.autotune(
                    configs, key=[*keys, "NEED_X", "NEED_Y", "NEED_W"], reset_to_zero=["gx_ptr", "gy_ptr"]
                )(module.backward)
                _kernels[key] = (forward, backward)
        return _kernels[key]

    def second_order_kernel(self, present: tuple[bool, bool, bool], part: str) -> object:
        """The generated kernel of the backward's gradient for the cotangents ``present`` (``cx``, ``cy``,
        ``cw``) computing the gradients named in ``part``, autotuned on a GPU; shared like :meth:`kernels`."""
        tune = os.environ.get(ENV_AUTOTUNE, "1").strip().lower() not in ("0", "false", "off", "no")
        source = second_order_source(self.spec, present, part)
        key = (source, tune)
        if key not in _second:
            import triton

            kernel = _load_module(source).second_order
            if not _interpreted():
                candidates = second_order_configs(self.spec)[: None if tune else 1]
                configs = [triton.Config({"BLOCK_E": e, "BC": c}, num_warps=w) for e, c, w in candidates]
                keys = ["rows_bucket", "GATHER", "SCATTER", "NEED_G", "NEED_X", "NEED_Y", "NEED_W"]
                kernel = triton.autotune(configs, key=keys, reset_to_zero=["og_ptr", "ox_ptr", "oy_ptr"])(
                    kernel
                )
            _second[key] = kernel
        return _second[key]

    def _launch(self, kernel, rows: int, *args, **flags) -> None:
        spec = self.spec
        if rows == 0:  # no edges: the outputs are already zero (or empty)
            return
        if _interpreted():
            block_e, block_c, _ = _configs(spec)[0]
            grid = (-(-rows // block_e), -(-spec.max_mul // block_c) if spec.blocked else 1)
            kernel[grid](*args, rows, rows.bit_length(), BLOCK_E=block_e, BC=block_c, **flags)
            return

        def grid(meta: dict) -> tuple[int, int]:
            blocks = -(-spec.max_mul // meta["BC"]) if spec.blocked else 1
            return (-(-rows // meta["BLOCK_E"]), blocks)

        with torch.cuda.device(args[0].device):  # Triton launches on the current device
            kernel[grid](*args, rows, rows.bit_length(), **flags)

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor,
        hidden: None = None,
        matrix: None = None,
        edges: Edges | None = None,
    ) -> torch.Tensor:
        """The product (no autograd): ``[Z, out.dim]``, or ``[num_nodes, out.dim]`` with ``edges``.

        ``hidden`` and ``matrix`` (slots of :mod:`._autograd`) are always ``None``: the weights come whole.
        """
        rows = y.shape[0]
        src, dst, num_nodes = edges if edges is not None else (y, y, rows)
        zeros = edges is not None or self._out_gaps or rows == 0
        out = (torch.zeros if zeros else torch.empty)(
            num_nodes, self.spec.dim_out, dtype=x.dtype, device=x.device
        )
        forward, _ = self.kernels()
        flags = {"GATHER": edges is not None, "SCATTER": edges is not None}
        self._launch(forward, rows, x, y, weight, out, src, dst, **flags)
        return out

    def backward(
        self,
        grad_out: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor,
        hidden: None = None,
        matrix: None = None,
        needs: tuple[bool, ...] = (True, True, True),
        edges: Edges | None = None,
    ) -> tuple[torch.Tensor | None, ...]:
        """Gradients for ``(x, y, weight, hidden, matrix)`` (the last two ``None``), ``None`` where ``needs``
        says not wanted."""
        rows = y.shape[0]
        src, dst, _ = edges if edges is not None else (y, y, rows)
        gx = (
            (torch.zeros_like if edges is not None or self._x_gaps else torch.empty_like)(x)
            if needs[0]
            else None
        )
        gy = (torch.zeros_like if self._y_gaps else torch.empty_like)(y) if needs[1] else None
        gw = torch.empty_like(weight) if needs[2] else None
        _, backward = self.kernels()
        flags = {"GATHER": edges is not None, "SCATTER": edges is not None}
        flags |= {"NEED_X": needs[0], "NEED_Y": needs[1], "NEED_W": needs[2]}
        # an unwanted gradient gets a scratch element: the autotuner zeroes gx_ptr and gy_ptr while tuning
        buffers = [g if g is not None else x.new_empty(1) for g in (gx, gy, gw)]
        self._launch(backward, rows, x, y, weight, grad_out, *buffers, src, dst, **flags)
        return gx, gy, gw, None, None

    def double_backward(
        self,
        grad_out: torch.Tensor,
        slots: tuple[torch.Tensor | None, ...],
        cotangents: tuple[torch.Tensor | None, ...],
        needs: tuple[bool, ...],
        edges: Edges | None = None,
    ) -> tuple[torch.Tensor | None, list[torch.Tensor | None]]:
        """The gradient of :meth:`backward` (see :mod:`._triton_second`) in two kernels, one for the gradient
        of ``grad_out`` and one for those of the slots (one kernel for all would spill registers):
        ``slots = (x, y, weight, None, None)``, ``cotangents`` of the backward's outputs (``None``: zero),
        ``needs`` for ``grad_out`` then each slot. Returns ``(grad of grad_out, [grad of slot])``."""
        x, y, weight = slots[:3]
        cx, cy, cw = cotangents[:3]
        present = (cx is not None, cy is not None, cw is not None)
        if not any(present):
            return None, [None] * 5
        rows = y.shape[0]
        src, dst, num_nodes = edges if edges is not None else (y, y, rows)
        has_x, has_y, has_w = present  # a slot's gradient has terms from the other two cotangents only
        needs = (
            needs[0],
            needs[1] and (has_y or has_w),
            needs[2] and (has_x or has_w),
            needs[3] and (has_x or has_y),
        )

        def buffer(
            wanted: bool, zeros: bool, like: torch.Tensor, shape: tuple[int, ...]
        ) -> torch.Tensor | None:
            return (
                (torch.zeros if zeros else torch.empty)(shape, dtype=like.dtype, device=like.device)
                if wanted
                else None
            )

        og = buffer(needs[0], edges is not None or self._out_gaps, x, (num_nodes, self.spec.dim_out))
        ox = buffer(needs[1], edges is not None or self._x_gaps, x, tuple(x.shape))
        oy = buffer(needs[2], self._y_gaps, y, tuple(y.shape))
        ow = buffer(needs[3], False, weight, tuple(weight.shape))
        flags = {"GATHER": edges is not None, "SCATTER": edges is not None}
        flags |= {"NEED_G": needs[0], "NEED_X": needs[1], "NEED_Y": needs[2], "NEED_W": needs[3]}
        operands = [c if c is not None else t for c, t in ((cx, x), (cy, y), (cw, weight))]  # absent: unread
        outputs = [o if o is not None else x.new_empty(1) for o in (og, ox, oy, ow)]  # unwanted: scratch
        slot_part = "".join(name for name, need in zip("xyw", needs[1:4], strict=True) if need)
        for part in ("g" if needs[0] else "", slot_part):
            if part:
                kernel = self.second_order_kernel(present, part)
                self._launch(kernel, rows, x, y, weight, grad_out, *operands, *outputs, src, dst, **flags)
        return og, [ox, oy, ow, None, None]
