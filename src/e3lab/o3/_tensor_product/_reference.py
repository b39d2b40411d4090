"""Readable reference tensor product: the defining formula, one dense einsum per path.

``z_out[..., w, k] += path_weight * sum w[...] C[i, j, k] x[..., u, i] y[..., v, j]`` with the index pattern
of the connection mode (the triangle modes pick the pairs ``u < v`` of the ``uvuv`` product). It forms the
full outer product and is slow; it exists to check the fast kernel.
"""

from __future__ import annotations

import torch

from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._wigner_3j import wigner_3j

__all__ = ["tensor_product_reference"]

# (weight indices, output indices) per mode; x is "ui", y is "vj" ("uj" for the uu modes).
_EINSUM = {
    "uvw": ("uvw", "wk"),
    "uvu": ("uv", "uk"),
    "uvv": ("uv", "vk"),
    "uuw": ("uw", "wk"),
    "uuu": ("u", "uk"),
    "uvuv": ("uv", "uvk"),
    "uvu<v": ("q", "qk"),
    "u<vw": ("qw", "wk"),
}


def _triangle(cg: torch.Tensor, x1: torch.Tensor, y1: torch.Tensor) -> torch.Tensor:
    """The pairs ``u < v`` of ``C x_u y_v``: ``x1: [..., u, i]``, ``y1: [..., v, j]`` -> ``[..., q, k]``."""
    u, v = torch.triu_indices(x1.shape[-2], y1.shape[-2], 1, device=x1.device)
    return torch.einsum("ijk,...ui,...vj->...uvk", cg, x1, y1)[..., u, v, :]


def tensor_product_reference(
    tp: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, weight=None
) -> torch.Tensor:
    """Evaluate ``tp`` (a :class:`TensorProduct`) by its definition.

    Args:
        x: ``[..., irreps_in1.dim]``; y: ``[..., irreps_in2.dim]``;
        weight: ``[weight_numel]`` (shared) or ``[..., weight_numel]``; ``None`` uses ``tp.weight``.

    Returns:
        ``[..., irreps_out.dim]`` (the broadcast batch shape).
    """
    weight = tp.weight if weight is None else weight
    batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1], () if tp.shared_weights else weight.shape[:-1])
    outputs = [x.new_zeros(*batch, mul_ir.dim) for mul_ir in tp.irreps_out]
    offset = 0
    ins: Instruction
    for ins in tp.instructions:
        (mul1, ir1), (mul2, ir2), (mul_out, ir_out) = (
            tp.irreps_in1[ins.i_in1],
            tp.irreps_in2[ins.i_in2],
            tp.irreps_out[ins.i_out],
        )
        x1 = x[..., tp.irreps_in1.slices()[ins.i_in1]].reshape(*x.shape[:-1], mul1, ir1.dim)
        y1 = y[..., tp.irreps_in2.slices()[ins.i_in2]].reshape(*y.shape[:-1], mul2, ir2.dim)
        cg = wigner_3j(ir1.l, ir2.l, ir_out.l, dtype=x.dtype, device=x.device)
        w_idx, out_idx = _EINSUM[ins.connection_mode]
        y_idx = "uj" if ins.connection_mode.startswith("uu") else "vj"
        triangle = ins.connection_mode in ("uvu<v", "u<vw")
        if ins.has_weight:
            size = int(torch.Size(ins.path_shape).numel())
            w = weight[..., offset : offset + size].reshape(*weight.shape[:-1], *ins.path_shape)
            offset += size
            if triangle:
                z = torch.einsum(f"...{w_idx},...qk->...{out_idx}", w, _triangle(cg, x1, y1))
            else:
                z = torch.einsum(f"...{w_idx},ijk,...ui,...{y_idx}->...{out_idx}", w, cg, x1, y1)
        elif triangle:  # uvu<v (u<vw always has weights)
            z = _triangle(cg, x1, y1)
        else:  # no weight: only uuw has an index (w, of size 1) that the inputs lack
            out_idx = out_idx.replace("w", "")
            z = torch.einsum(f"ijk,...ui,...{y_idx}->...{out_idx}", cg, x1, y1)
        z = ins.path_weight * z.reshape(*z.shape[: -len(out_idx)], mul_out * ir_out.dim)
        outputs[ins.i_out] = outputs[ins.i_out] + z
    return torch.cat(outputs, dim=-1) if outputs else x.new_zeros(*batch, 0)
