"""The contract every backbone (a network ``model.net`` can name) meets, and the input checks they share."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from e3lab import _value_checks, o3

from ._convolution import check_edge_index


@runtime_checkable
class Backbone(Protocol):
    """What the LightningModules, the equivariance check and the timing breakdown rely on in a network.

    A backbone is a ``torch.nn.Module`` with

    - ``irreps_in: o3.Irreps``, the layout of the node features ``x`` it reads (e.g. ``"{n}x0e"``, one-hot
      species, for a potential);
    - ``irreps_out: o3.Irreps``, the layout of its node outputs (``"1x0e"``, an energy per atom, for a
      potential);
    - ``forward(x, pos, batch=None, edge_index=None, edge_vec=None) -> [N, irreps_out.dim]``:

      - ``x: [N, irreps_in.dim]`` node features, ``pos: [N, 3]`` positions;
      - ``batch: [N]`` the graph of each node (sorted), ``None`` for one graph;
      - ``edge_index: [2, E]`` (source ``j``, target ``i``), or ``None``: the backbone builds the radius
        graph of each graph itself;
      - ``edge_vec: [E, 3]``, when given, replaces ``pos[i] - pos[j]`` as the vector of edge ``j -> i``
        (periodic images: ``pos[i] - pos[j] + shift @ cell``); it needs ``edge_index``. Gradients must
        flow from the output to ``pos`` and ``edge_vec`` (forces and stress are derivatives), and twice
        (force training differentiates them again).

    The output must be equivariant: rotating or inverting ``pos`` (and ``edge_vec``) and transforming ``x``
    with ``irreps_in.D_from_matrix`` transforms it with ``irreps_out.D_from_matrix``; translating or
    permuting nodes (with their edges) changes nothing or permutes it.

    Timing: the forward's work runs inside ``torch.profiler.record_function`` ranges named after the stages
    of :data:`e3lab.nn.STAGES` (``radius_graph``, ``spherical_harmonics``, ``radial_embedding``,
    ``radial_mlp``, ``tensor_product``, ``scatter``, ``gate``); the timing callback attributes forward and
    backward time to them, and everything else to ``other``.

    Any class meeting this can be named by ``model.net._target_`` (one file and one yaml). ``isinstance(net,
    Backbone)`` checks the attributes and ``forward``; :func:`check_backbone_inputs` is the shared input
    check.
    """

    irreps_in: o3.Irreps
    irreps_out: o3.Irreps

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        batch: torch.Tensor | None = None,
        edge_index: torch.Tensor | None = None,
        edge_vec: torch.Tensor | None = None,
    ) -> torch.Tensor: ...


def check_backbone_inputs(
    net: torch.nn.Module,
    x: torch.Tensor,
    pos: torch.Tensor,
    batch: torch.Tensor | None,
    edge_index: torch.Tensor | None,
    edge_vec: torch.Tensor | None,
) -> None:
    """Raise ValueError/TypeError naming the bad input of ``net.forward`` (see :class:`Backbone`) and the fix.

    Checks shapes, devices and dtypes against ``net``'s parameters, and on the CPU also finite
    ``pos``/``x``/``edge_vec`` and the indices of ``edge_index`` (no host sync on a GPU: a GPU batch was
    checked where it was made): called once per forward, not per layer.
    """
    if not isinstance(pos, torch.Tensor) or pos.dim() != 2 or pos.shape[1] != 3:
        shape = list(pos.shape) if isinstance(pos, torch.Tensor) else type(pos).__name__
        raise ValueError(f"pos must have shape [N, 3], got {shape}")
    num_nodes = pos.shape[0]
    parameter = next(net.parameters())
    for name, t in (("pos", pos), ("x", x), ("edge_vec", edge_vec)):
        if isinstance(t, torch.Tensor) and t.device != parameter.device:
            raise ValueError(
                f"{name} is on {t.device} but the model is on {parameter.device}: move them to one device "
                f"(model.to({str(t.device)!r}) or {name}.to({str(parameter.device)!r}))"
            )
    # value checks on the CPU only: on a GPU they would stall the host in every step (the batch's values
    # were checked where it was made, see e3lab._value_checks)
    values = _value_checks.values_checkable(pos)
    if values and not torch.isfinite(pos).all():
        bad = int((~torch.isfinite(pos).all(dim=1)).sum())
        raise ValueError(f"pos has {bad} row(s) with NaN or Inf: remove or fix those points")
    irreps_in = net.irreps_in
    if not isinstance(x, torch.Tensor) or x.shape != (num_nodes, irreps_in.dim):
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"x must have shape [N, irreps_in.dim] = [{num_nodes}, {irreps_in.dim}] "
            f"(irreps_in={irreps_in}, N from pos), got {shape}"
        )
    if values and not torch.isfinite(x).all():
        raise ValueError("x has NaN or Inf entries: check the node features")
    if x.dtype != pos.dtype:
        raise TypeError(f"x is {x.dtype} but pos is {pos.dtype}: give both the model's dtype")
    if pos.dtype != parameter.dtype:
        raise TypeError(
            f"x and pos are {pos.dtype} but the model is {parameter.dtype}: call model.to({pos.dtype}) "
            f"or cast the inputs to {parameter.dtype}"
        )
    if batch is not None and (not isinstance(batch, torch.Tensor) or batch.shape != (num_nodes,)):
        shape = list(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(f"batch must have shape [N] = [{num_nodes}] (graph index per node), got {shape}")
    if edge_index is not None:
        check_edge_index(edge_index, num_nodes)
    if edge_vec is None:
        return
    if edge_index is None:
        raise ValueError("edge_vec was given without edge_index: give the edges it belongs to as well")
    if edge_vec.shape != (edge_index.shape[1], 3) or edge_vec.dtype != pos.dtype:
        raise ValueError(
            f"edge_vec must be a [E, 3] = [{edge_index.shape[1]}, 3] {pos.dtype} tensor (one vector per "
            "edge), "
            f"got {edge_vec.dtype} {list(edge_vec.shape)}"
        )
    if values and not torch.isfinite(edge_vec).all():
        raise ValueError("edge_vec has NaN or Inf entries: check the cell and the shifts of the edges")
