"""Analyze the task's symmetry at the start of training: groups, loss floor, and how to break the symmetry."""

from __future__ import annotations

import json
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from typing_extensions import override

from e3lab.callbacks._atomic_files import atomic_write_text
from e3lab.callbacks._run_files import log_metrics, log_table, run_dir
from e3lab.symmetry import SymmetryReport, analyze_symmetry

__all__ = ["SymmetryReportCallback", "UnreachableTargetWarning", "first_graph"]


class UnreachableTargetWarning(UserWarning):
    """The target has less symmetry than the input: no equivariant model can reach it."""


def first_graph(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(pos [n, 3], x [n, d_in], target)`` of a graph batch's first graph; ``None`` without a target.

    The target is the graph's ``node_target [n, d_out]`` or, without one, its floating-point
    ``graph_target [d_out]`` (a class index is not a feature and gives ``None``).
    """
    ptr = getattr(batch, "ptr", None)
    nodes = slice(0, len(batch.pos)) if ptr is None else slice(int(ptr[0]), int(ptr[1]))
    if getattr(batch, "node_target", None) is not None:
        target = batch.node_target[nodes]
    elif getattr(batch, "graph_target", None) is not None and batch.graph_target.is_floating_point():
        target = batch.graph_target[0].reshape(-1)
    else:
        return None
    return batch.pos[nodes], batch.x[nodes], target


class SymmetryReportCallback(pl.Callback):
    """Report the symmetry of the first training graph when training starts.

    On the first training batch, runs :func:`e3lab.symmetry.analyze_symmetry` on its first graph with
    ``pl_module.net.irreps_in`` / ``irreps_out``: the input's and the target's point groups, the loss floor
    of any equivariant model, and the lowest-degree input features that break the input's symmetry down to
    the target's (verified by recomputing the floor with each added). Then, on rank zero:

    - logs ``symmetry/input_group_order``, ``symmetry/target_group_order``, ``symmetry/loss_floor``,
      ``symmetry/reachable`` (1 or 0) and, with a proposal, ``symmetry/proposal_l``,
      ``symmetry/proposal_parity`` and ``symmetry/proposal_floor`` to every logger (CSV, W&B);
    - logs the report as the W&B table ``symmetry/report`` (group names, proposal values);
    - writes ``<run dir>/symmetry_report.txt`` and ``symmetry_report.json``;
    - warns (:class:`UnreachableTargetWarning`) when the target can't be reached, naming the proposal.

    Graphs with more than ``max_nodes`` nodes, collinear ones (a continuous group) and batches without a
    feature-valued target are skipped with a message. ``report`` keeps the result.

    Args:
        lmax: highest degree of the breaking features searched.
        value_norm: norm of a proposed global feature.
        max_nodes: largest graph analyzed (the group search costs ``O(n^4)``).
        tol: tolerance of the symmetry detection.
    """

    def __init__(
        self, lmax: int = 8, value_norm: float = 0.1, max_nodes: int = 200, tol: float = 1e-6
    ) -> None:
        if not isinstance(lmax, int) or lmax < 0:
            raise ValueError(f"lmax={lmax!r} must be an int >= 0")
        if not isinstance(max_nodes, int) or max_nodes < 3:
            raise ValueError(f"max_nodes={max_nodes!r} must be an int >= 3 (fewer points are collinear)")
        self.lmax = lmax
        self.value_norm = value_norm
        self.max_nodes = max_nodes
        self.tol = tol
        self.report: SymmetryReport | None = None
        self._done = False

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._done:
            return
        self._done = True
        self.report = self.analyze(pl_module, batch)
        if self.report is not None and trainer.is_global_zero:
            self._record(trainer, self.report)

    def analyze(self, pl_module: pl.LightningModule, batch: Any) -> SymmetryReport | None:
        """The report of ``batch``'s first graph, or ``None`` (with a message) when it can't be made."""
        graph = first_graph(batch)
        if graph is None:
            rank_zero_info("symmetry report skipped: the batch has no node_target or float graph_target")
            return None
        pos, x, target = graph
        if len(pos) > self.max_nodes:
            rank_zero_info(f"symmetry report skipped: {len(pos)} nodes > max_nodes={self.max_nodes}")
            return None
        net = pl_module.net
        try:
            return analyze_symmetry(
                pos, x, net.irreps_in, target, net.irreps_out, self.lmax, self.value_norm, self.tol
            )
        except ValueError as err:
            rank_zero_info(f"symmetry report skipped: {err}")
            return None

    def _record(self, trainer: pl.Trainer, report: SymmetryReport) -> None:
        metrics = {
            "symmetry/input_group_order": float(report.input_group.order),
            "symmetry/target_group_order": float(report.target_group.order),
            "symmetry/loss_floor": report.floor,
            "symmetry/reachable": float(report.reachable),
        }
        proposal = report.proposal
        if proposal is not None:
            metrics["symmetry/proposal_l"] = float(proposal.irrep.l)
            metrics["symmetry/proposal_parity"] = float(proposal.irrep.p)
            metrics["symmetry/proposal_floor"] = proposal.floor
        log_metrics(trainer, metrics)
        rows = [
            ["input group", report.input_group.describe()],
            ["target group", report.target_group.describe()],
            ["loss floor", f"{report.floor:.6g}"],
            ["verdict", report.message],
        ]
        for p in report.proposals:
            rows.append([f"{p.kind} {p.irrep}", f"{p.value.tolist()} ({p.source}); {p.verdict()}"])
        log_table(trainer, "symmetry/report", ["item", "value"], rows)
        directory = run_dir(trainer)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / "symmetry_report.txt", str(report) + "\n")
        atomic_write_text(directory / "symmetry_report.json", json.dumps(report.to_dict(), indent=1) + "\n")
        rank_zero_info(f"symmetry report:\n{report}")
        if not report.reachable:
            hint = ""
            if proposal is not None:
                effect = "brings it to 0" if proposal.reaches_target else f"lowers it to {proposal.floor:.4g}"
                hint = f" Adding the {proposal.kind} input {proposal.irreps} proposed in the report {effect}."
            rank_zero_warn(
                f"the target can't be reached: the input's symmetry {report.input_group} is higher than the "
                f"target's {report.target_group}, so the loss can't go below {report.floor:.4g}.{hint} "
                f"See {directory / 'symmetry_report.txt'}",
                category=UnreachableTargetWarning,
            )
