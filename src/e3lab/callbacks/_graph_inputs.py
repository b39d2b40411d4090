"""The four model inputs of a graph batch, in the order ``net.forward`` takes them."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

__all__ = ["GraphInputs", "graph_inputs", "model_dtype_device"]


class GraphInputs(NamedTuple):
    """``x: [N, irreps_in.dim]``, ``pos: [N, 3]``, ``batch: [N] | None``, ``edge_index: [2, E] | None``."""

    x: torch.Tensor
    pos: torch.Tensor
    batch: torch.Tensor | None
    edge_index: torch.Tensor | None

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> GraphInputs:
        """Move every tensor to ``device``; cast the floating ones (``x``, ``pos``) to ``dtype``."""
        return GraphInputs(
            self.x.to(device=device, dtype=dtype),
            self.pos.to(device=device, dtype=dtype),
            None if self.batch is None else self.batch.to(device=device),
            None if self.edge_index is None else self.edge_index.to(device=device),
        )

    def detach(self) -> GraphInputs:
        """The same tensors cut from any autograd graph."""
        return GraphInputs(*(None if t is None else t.detach() for t in self))


def graph_inputs(batch: Any) -> GraphInputs:
    """Read ``x``, ``pos``, ``batch`` and ``edge_index`` from a ``GraphBatch`` (or any object with them).

    Raises:
        TypeError: when ``x`` or ``pos`` is missing or not a tensor.
    """
    x, pos = getattr(batch, "x", None), getattr(batch, "pos", None)
    if hasattr(batch, "species") and hasattr(batch, "edge_shift"):
        raise TypeError(
            f"got a {type(batch).__name__} of atoms, which has no node features x: for an interatomic "
            "potential use the potential callbacks (callbacks=potential: PotentialEquivarianceCallback "
            "instead of EquivarianceCallback)"
        )
    if not isinstance(x, torch.Tensor) or not isinstance(pos, torch.Tensor):
        raise TypeError(
            f"expected a GraphBatch with tensors .x [N, irreps_in.dim] and .pos [N, 3], got "
            f"{type(batch).__name__} (x: {type(x).__name__}, pos: {type(pos).__name__}); "
            "return e3lab.graph.GraphBatch objects from the DataModule"
        )
    return GraphInputs(x, pos, getattr(batch, "batch", None), getattr(batch, "edge_index", None))


def model_dtype_device(module: torch.nn.Module) -> tuple[torch.dtype, torch.device]:
    """Dtype and device of the first floating parameter (default dtype on CPU when there is none)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype, param.device
    return torch.get_default_dtype(), torch.device("cpu")
