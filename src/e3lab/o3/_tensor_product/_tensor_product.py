"""``TensorProduct``: the general parametrised tensor product of two irreps-laid-out tensors (e3nn's API)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from e3lab.o3._errors import WeightError
from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._e3nn_api import E3nnTensorProductApi
from e3lab.o3._tensor_product._instruction import Instruction, build_instructions
from e3lab.o3._tensor_product._native_tp import NativeTensorProduct
from e3lab.o3._tensor_product._ops import check_indices, tracing
from e3lab.o3._tensor_product._pytorch_kernel import TensorProductKernel
from e3lab.o3._tensor_product._reference import tensor_product_reference
from e3lab.o3._tensor_product._switches import fast_paths_enabled
from e3lab.o3._tensor_product._triton_tp import TritonTensorProduct

__all__ = ["TensorProduct"]


def _numel(shape: tuple) -> int:
    return int(torch.Size(shape).numel())


class TensorProduct(E3nnTensorProductApi, torch.nn.Module):
    r"""Tensor product with parametrised paths, numerically identical to ``e3nn.o3.TensorProduct`` (0.6.0).

    Each instruction ``(i_in1, i_in2, i_out, connection_mode, has_weight[, path_weight])`` adds
    ``sqrt(alpha) * w (x)_CG`` of ``x[i_in1]`` and ``y[i_in2]`` into ``out[i_out]``; see
    :mod:`e3lab.o3._tensor_product._instruction` for the modes and ``alpha``.

    Args:
        irreps_in1, irreps_in2, irreps_out: the layouts of ``x``, ``y`` and the output.
        instructions: the paths.
        in1_var, in2_var, out_var: per-term variances (default 1) entering the normalisation.
        irrep_normalization: ``"component"``, ``"norm"`` or ``"none"``.
        path_normalization: ``"element"``, ``"path"`` or ``"none"``.
        internal_weights: keep the weights as a parameter ``.weight`` (N(0, 1) init). Defaults to
            ``shared_weights`` and "some path has weights".
        shared_weights: one weight vector for the whole batch (default ``True``); ``False`` takes
            ``weight: [..., weight_numel]`` broadcast against the inputs.
        fast_path: evaluate with the fast kernels (``True``) or the readable reference einsums (``False``);
            ``None`` (default) follows :func:`set_fast_paths` / the ``E3LAB_FAST_PATHS`` variable. Where it
            applies (per-sample weights, weighted ``uvw``/``uvu`` paths, every ``irreps_in2`` term of
            multiplicity 1: the convolution shape) the fast kernel is the native C one on CPU
            (``_native_tp``; ``E3LAB_NATIVE=0`` turns it off) and generated Triton ones on CUDA
            (``_triton_tp``; ``E3LAB_TRITON=0``); elsewhere it is the PyTorch one.
        compile_kernel: run the PyTorch fast kernel under ``torch.compile(dynamic=True)`` (opt-in: the first
            call compiles for seconds to a minute; inductor fuses the per-path ops). Ignored by the reference
            path and where the native or Triton kernels apply. The attribute can be switched after
            construction.
        compile_left_right: e3nn's switch for generating ``forward``: with ``False`` calling the product
            raises (as in e3nn).
        compile_right: e3nn's switch for :meth:`right` (off by default, as in e3nn: ``right`` then raises).
        normalization: e3nn's deprecated name of ``irrep_normalization`` (warns).
        _specialized_code, _optimize_einsums: e3nn's code-generation switches (special cases for ``l = 0``
            paths; opt_einsum contraction order). Accepted and kept as attributes for e3nn code; e3lab's
            kernels choose their contractions per path themselves, so they change nothing (in e3nn they
            change only speed and rounding, never values).

    Weights are flat: the blocks of the weighted instructions in order, each ``path_shape`` row-major;
    ``forward``, ``right`` and the weight views also take them as a list, one ``[(...,) *path_shape]``
    tensor per weighted instruction (as e3nn does).
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        irreps_out: Any,
        instructions: Sequence[tuple],
        in1_var: Sequence[float] | torch.Tensor | None = None,
        in2_var: Sequence[float] | torch.Tensor | None = None,
        out_var: Sequence[float] | torch.Tensor | None = None,
        irrep_normalization: str | None = "component",
        path_normalization: str | None = "element",
        internal_weights: bool | None = None,
        shared_weights: bool | None = None,
        fast_path: bool | None = None,
        compile_kernel: bool = False,
        compile_left_right: bool = True,
        compile_right: bool = False,
        normalization: str | None = None,
        _specialized_code: bool | None = None,
        _optimize_einsums: bool | None = None,
    ) -> None:
        super().__init__()
        if normalization is not None:
            warnings.warn(
                "normalization= is deprecated (as in e3nn): use irrep_normalization=", DeprecationWarning, 2
            )
            irrep_normalization = normalization
        self._compile_left_right, self._compile_right = bool(compile_left_right), bool(compile_right)
        self._specialized_code = True if _specialized_code is None else bool(_specialized_code)
        self._optimize_einsums = True if _optimize_einsums is None else bool(_optimize_einsums)
        if fast_path is not None and not isinstance(fast_path, bool):
            raise TypeError(f"fast_path must be True, False or None (global setting), got {fast_path!r}")
        if not isinstance(compile_kernel, bool):
            raise TypeError(f"compile_kernel must be True or False, got {compile_kernel!r}")
        self.fast_path = fast_path
        self.compile_kernel = compile_kernel
        self._compiled: dict[str, Any] = {}  # the compiled kernel, made on first use (not a submodule)
        self.irreps_in1, self.irreps_in2, self.irreps_out = (
            Irreps(irreps_in1),
            Irreps(irreps_in2),
            Irreps(irreps_out),
        )
        self.instructions: list[Instruction] = build_instructions(
            self.irreps_in1,
            self.irreps_in2,
            self.irreps_out,
            instructions,
            in1_var,
            in2_var,
            out_var,
            irrep_normalization or "component",
            path_normalization or "element",
        )
        if shared_weights is False and internal_weights is None:
            internal_weights = False
        shared_weights = True if shared_weights is None else shared_weights
        if internal_weights is None:
            internal_weights = shared_weights and any(ins.has_weight for ins in self.instructions)
        if internal_weights and not shared_weights:
            raise ValueError("internal_weights=True needs shared_weights=True (internal weights are shared)")
        self.shared_weights: bool = bool(shared_weights)
        self.internal_weights: bool = bool(internal_weights)
        self.weight_numel: int = sum(_numel(ins.path_shape) for ins in self.instructions if ins.has_weight)
        if self.internal_weights and self.weight_numel > 0:
            self.weight = torch.nn.Parameter(torch.randn(self.weight_numel))
        else:
            self.register_buffer("weight", torch.Tensor())
        self.kernel = TensorProductKernel(
            self.irreps_in1, self.irreps_in2, self.irreps_out, self.instructions, self.weight_numel
        )
        fusable = NativeTensorProduct.supports(
            self.irreps_in1, self.irreps_in2, self.irreps_out, self.instructions, self.shared_weights
        )
        layout = (self.irreps_in1, self.irreps_in2, self.irreps_out, self.instructions)
        self._native = NativeTensorProduct(*layout) if fusable else None
        triton_kernels = TritonTensorProduct(*layout) if fusable else None
        self._triton = triton_kernels if triton_kernels is not None and triton_kernels.compact else None
        live = {p.i_out for group in self.kernel.groups for p in group}
        mask = [torch.full((mul_ir.dim,), float(i in live)) for i, mul_ir in enumerate(self.irreps_out)]
        self.register_buffer("output_mask", torch.cat(mask) if mask else torch.ones(0))

    def __repr__(self) -> str:
        paths = sum(_numel(ins.path_shape) for ins in self.instructions)
        return (
            f"{type(self).__name__}({self.irreps_in1.simplify()} x {self.irreps_in2.simplify()} -> "
            f"{self.irreps_out.simplify()} | {paths} paths | {self.weight_numel} weights)"
        )

    def _get_weight(self, weight: torch.Tensor | Sequence[torch.Tensor] | None) -> torch.Tensor:
        weight = self._flat_weight(weight)
        if weight is None:
            if self.weight_numel > 0 and not self.internal_weights:
                raise WeightError(
                    f"{type(self).__name__} has no internal weights: pass weight of shape "
                    f"{'[' if self.shared_weights else '[..., '}{self.weight_numel}] (weight_numel)"
                )
            return self.weight
        if self.shared_weights and tuple(weight.shape) != (self.weight_numel,):
            raise WeightError(
                f"weight has shape {tuple(weight.shape)}; shared weights need shape "
                f"[{self.weight_numel}] (weight_numel)"
            )
        if not self.shared_weights and (weight.dim() < 2 or weight.shape[-1] != self.weight_numel):
            raise WeightError(
                f"weight has shape {tuple(weight.shape)}; per-sample weights need shape "
                f"[batch..., {self.weight_numel}] (weight_numel), with at least one batch dimension"
            )
        return weight

    def _check_inputs(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> None:
        for name, t, irreps in (("x", x, self.irreps_in1), ("y", y, self.irreps_in2)):
            if t.dim() == 0 or t.shape[-1] != irreps.dim:
                raise ValueError(
                    f"{name} has shape {tuple(t.shape)} but irreps_in{1 if name == 'x' else 2} = {irreps} "
                    f"needs the last dimension to be {irreps.dim}"
                )
        if y.dtype != x.dtype or (self.weight_numel > 0 and weight.dtype != x.dtype):
            raise TypeError(
                f"mixed dtypes: x {x.dtype}, y {y.dtype}, weight {weight.dtype}; cast them (and the module, "
                "with .to(dtype)) to one dtype"
            )
        if y.device != x.device or (self.weight_numel > 0 and weight.device != x.device):
            raise ValueError(
                f"mixed devices: x on {x.device}, y on {y.device}, weight on {weight.device}; "
                "move them to one device"
            )

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``x: [..., irreps_in1.dim]``, ``y: [..., irreps_in2.dim]`` -> ``[..., irreps_out.dim]``.

        ``weight``: ``[weight_numel]`` if ``shared_weights`` else ``[..., weight_numel]``; required unless the
        weights are internal. Batch dimensions of ``x``, ``y`` (and per-sample ``weight``) broadcast.
        """
        if not self._compile_left_right:
            raise RuntimeError(
                f"{type(self).__name__} was built with compile_left_right=False, which (as in e3nn) turns "
                "the product off; build it with compile_left_right=True"
            )
        weight = self._get_weight(weight)
        self._check_inputs(x, y, weight)
        per_sample = not self.shared_weights and self.weight_numel > 0
        shapes = (x.shape[:-1], y.shape[:-1], weight.shape[:-1] if per_sample else ())
        try:
            batch = torch.broadcast_shapes(*shapes)
        except RuntimeError:
            raise ValueError(
                f"batch dimensions do not broadcast: x {tuple(x.shape)}, y {tuple(y.shape)}"
                + (f", weight {tuple(weight.shape)}" if per_sample else "")
                + "; give them equal (or broadcastable) leading dimensions"
            ) from None
        z = math.prod(batch)  # a SymInt when traced with symbolic shapes
        x2 = x.expand(*batch, x.shape[-1]).reshape(z, x.shape[-1])
        y2 = y.expand(*batch, y.shape[-1]).reshape(z, y.shape[-1])
        w2 = weight.expand(*batch, weight.shape[-1]).reshape(z, weight.shape[-1]) if per_sample else weight
        if self.native_applies(x2, y2, w2):
            out = self._native.apply(x2, y2, w2)
        elif self.triton_applies(x2, y2, w2):
            out = self._triton.apply(x2, y2, w2)
        elif not self._fast():
            out = self._reference(x2, y2, w2, not per_sample)
        else:
            evaluate = self._compiled_kernel() if self.compile_kernel else self.kernel
            out = evaluate(x2, y2, w2, not per_sample)
        return out.reshape(*batch, self.irreps_out.dim)

    def forward_with_weight_matrix(
        self, x: torch.Tensor, y: torch.Tensor, features: torch.Tensor, matrix: torch.Tensor
    ) -> torch.Tensor:
        """``self(x, y, features @ matrix)``: per-sample weights given as a last linear layer.

        ``x: [Z, irreps_in1.dim]``, ``y: [Z, irreps_in2.dim]``, ``features: [Z, H]``,
        ``matrix: [H, weight_numel]`` -> ``[Z, irreps_out.dim]``. On the native CPU path the weights are
        computed row by row inside the product and never stored (forward or backward); elsewhere this is
        exactly ``self(x, y, features @ matrix)``.
        """
        self._check_matrix(features, matrix)
        fused = x.dim() == y.dim() == features.dim() == 2 and x.shape[0] == y.shape[0] == features.shape[0]
        if fused and self.native_applies(x, y, features, matrix):
            self._check_inputs(x, y, matrix)
            return self._native.apply_fused(x, y, features, matrix)
        return self(x, y, features @ matrix)

    def convolve(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        features: torch.Tensor,
        matrix: torch.Tensor,
        edge_src: torch.Tensor,
        edge_dst: torch.Tensor,
        num_nodes: int,
    ) -> torch.Tensor:
        """Sum over edges ``e`` into node ``edge_dst[e]`` of ``self(x[edge_src[e]], y[e], features[e] @ W)``.

        ``x: [N, irreps_in1.dim]`` (nodes), ``y: [E, irreps_in2.dim]``, ``features: [E, H]``,
        ``matrix`` (``W``): ``[H, weight_numel]``, ``edge_src``, ``edge_dst``: integer ``[E]``
        -> ``[num_nodes, irreps_out.dim]``.
        The message-passing step of a point convolution. On the native CPU path it is one fused kernel:
        the gathered ``x[edge_src]``, the per-edge weights and the per-edge products are never stored. On the
        Triton GPU path the weights are one matrix product and the gather, product and scatter one kernel.
        """
        for name, index, size in (("edge_src", edge_src, x.shape[0]), ("edge_dst", edge_dst, num_nodes)):
            if index.shape != (y.shape[0],) or index.dtype.is_floating_point:
                raise ValueError(
                    f"{name} must be an integer [E] = [{y.shape[0]}] tensor, got {tuple(index.shape)}"
                )
            if index.device != x.device:
                raise ValueError(f"{name} is on {index.device} but x on {x.device}: move them to one device")
            if not tracing((index,)):  # traced: the operator checks them when it runs (data-dependent)
                check_indices(name, index, size)
        native = self.native_applies(x, y, features, matrix)
        if x.dim() == 2 and features.dim() == 2 and (native or self.triton_applies(x, y, features, matrix)):
            self._check_matrix(features, matrix)
            self._check_inputs(x, y, matrix)
            edges = (edge_src, edge_dst, num_nodes)
            if native:
                return self._native.apply_fused(x, y, features, matrix, edges)
            return self._triton.apply(x, y, features @ matrix, edges)
        summand = self.forward_with_weight_matrix(x[edge_src], y, features, matrix)
        return summand.new_zeros(num_nodes, summand.shape[-1]).index_add(0, edge_dst.long(), summand)

    def _check_matrix(self, features: torch.Tensor, matrix: torch.Tensor) -> None:
        if self.shared_weights:
            raise ValueError("weights given as a matrix need per-sample weights (shared_weights=False)")
        if matrix.dim() != 2 or matrix.shape[1] != self.weight_numel or features.shape[-1] != matrix.shape[0]:
            raise ValueError(
                f"features {tuple(features.shape)} @ matrix {tuple(matrix.shape)} must give "
                f"[Z, {self.weight_numel}] (weight_numel) weights"
            )

    def native_applies(self, *tensors: torch.Tensor) -> bool:
        """Whether inputs like ``tensors`` take the native CPU kernel (structure, switches, device, dtype)."""
        return self._fast() and self._native is not None and NativeTensorProduct.usable(*tensors)

    def triton_applies(self, *tensors: torch.Tensor) -> bool:
        """Whether inputs like ``tensors`` take the Triton GPU kernels (structure, switches, device)."""
        return self._fast() and self._triton is not None and TritonTensorProduct.usable(*tensors)

    def fused_convolution_applies(self, *tensors: torch.Tensor) -> bool:
        """Whether :meth:`convolve` is one fused kernel for inputs like ``tensors`` (native or Triton)."""
        return self.native_applies(*tensors) or self.triton_applies(*tensors)

    def _fast(self) -> bool:
        return fast_paths_enabled() if self.fast_path is None else self.fast_path

    def _compiled_kernel(self) -> Any:
        """``torch.compile(self.kernel.forward, dynamic=True)``, built once."""
        if "kernel" not in self._compiled:
            self._compiled["kernel"] = torch.compile(self.kernel.forward, dynamic=True)
        return self._compiled["kernel"]

    def _reference(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, shared: bool
    ) -> torch.Tensor:
        """The reference einsums, with the kernel's signature (``shared`` follows from the weight shape)."""
        return tensor_product_reference(self, x, y, weight)

    def visualize(
        self,
        weight: torch.Tensor | None = None,
        plot_weight: bool = True,
        aspect_ratio: float = 1,
        ax: Any = None,
    ) -> tuple[Any, Any]:
        """Draw the paths (in1 left, in2 right, out below); returns matplotlib ``(fig, ax)``.

        With ``plot_weight`` (and weights available) a path's colour is the mean square of its weights.
        """
        from e3lab.o3._tensor_product._visualize import draw_paths

        return draw_paths(self, weight, plot_weight, aspect_ratio, ax)
