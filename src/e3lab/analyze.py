"""Symmetry report of an experiment's task: ``python -m e3lab.symmetry experiment=square_to_rect``.

Composes the training config with the same overrides as ``train.py``, builds its DataModule, takes the first
graph of the first training batch and prints :func:`e3lab.symmetry.analyze_symmetry`'s report: the input's
and the target's point groups, the loss floor, and the lowest-degree input features that would break the
input's symmetry down to the target's. When the DataModule takes a global breaking input
(``breaker_irreps`` / ``breaker_values``, as the shapes data does), it also prints the ``train.py`` command
that adds the proposed feature.
"""

from __future__ import annotations

import argparse
import sys

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig

from e3lab._run import register_resolvers
from e3lab.callbacks import first_graph
from e3lab.o3 import Irreps
from e3lab.symmetry import SymmetryReport, analyze_symmetry

__all__ = ["analyze_config", "breaker_overrides", "compose_train_config", "main"]


def compose_train_config(overrides: list[str]) -> DictConfig:
    """The training config that ``python train.py <overrides>`` would use (without Hydra's run dir)."""
    register_resolvers()
    with initialize_config_module(config_module="e3lab.conf", version_base="1.3"):
        return compose("train", overrides=overrides)


def analyze_config(cfg: DictConfig, lmax: int = 8, value_norm: float = 0.1) -> SymmetryReport:
    """The symmetry report of the first graph of ``cfg.data``'s first training batch."""
    previous = torch.get_default_dtype()
    if cfg.get("float64"):
        torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(cfg.get("seed") or 0)
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        batch = next(iter(datamodule.train_dataloader()))
    finally:
        torch.set_default_dtype(previous)
    graph = first_graph(batch)
    if graph is None:
        raise ValueError(
            f"{type(datamodule).__name__}'s batches have no node_target or float graph_target: nothing to "
            "compare the input's symmetry with"
        )
    pos, x, target = graph
    return analyze_symmetry(
        pos, x, datamodule.irreps_in, target, datamodule.irreps_out, lmax=lmax, value_norm=value_norm
    )


def breaker_overrides(cfg: DictConfig, report: SymmetryReport) -> list[str] | None:
    """``train.py`` overrides that add the report's first global proposal to a DataModule with a breaker.

    ``None`` when there is no global proposal or ``cfg.data`` has no ``breaker_irreps`` / ``breaker_values``.
    An existing breaker is kept and the proposal appended to it.
    """
    proposal = next((p for p in report.proposals if p.kind == "global"), None)
    if proposal is None or "breaker_values" not in cfg.data or "breaker_irreps" not in cfg.data:
        return None
    old_irreps = Irreps(cfg.data.breaker_irreps or "")
    old_values = list(cfg.data.breaker_values or [])
    irreps = (old_irreps + proposal.irreps).simplify()
    values = old_values + [float(v) for v in proposal.value]
    irreps_in = (Irreps(cfg.data.irreps_in) + proposal.irreps).simplify()
    listed = ",".join(f"{v:.12g}" for v in values)
    return [f"data.breaker_irreps={irreps}", f"data.breaker_values=[{listed}]", f"data.irreps_in={irreps_in}"]


def main(argv: list[str] | None = None) -> int:
    """Print the symmetry report of the experiment that the Hydra overrides in ``argv`` select."""
    parser = argparse.ArgumentParser(
        prog="python -m e3lab.symmetry",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "overrides", nargs="*", help="Hydra overrides, as for train.py: experiment=square_to_rect"
    )
    parser.add_argument("--lmax", type=int, default=8, help="highest degree of the features searched")
    parser.add_argument("--value-norm", type=float, default=0.1, help="norm of a proposed global feature")
    args = parser.parse_args(argv)
    cfg = compose_train_config(args.overrides)
    try:
        report = analyze_config(cfg, lmax=args.lmax, value_norm=args.value_norm)
    except ValueError as err:  # no target, a collinear geometry, bad irreps: say why, no traceback
        print(f"python -m e3lab.symmetry: {err}", file=sys.stderr)
        return 1
    print(f"symmetry report of {cfg.get('name')}: the first training graph of {cfg.data._target_}")
    print(report)
    overrides = breaker_overrides(cfg, report)
    if overrides:
        command = " ".join(["python train.py", *args.overrides, *(f"'{o}'" for o in overrides)])
        print(f"\ntrain with the proposed input:\n  {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
