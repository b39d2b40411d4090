"""SymmetryReportCallback: groups, floor and proposal logged at the start of training, and a warning."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import torch

from e3lab.callbacks import SymmetryReportCallback, UnreachableTargetWarning, first_graph
from e3lab.data import ShapesDataModule
from e3lab.models import SignalRegressionModule

from ._callback_toys import ToyTask, make_batch, tiny_trainer


def _fit(tmp_path: Path, start: str, target: str) -> SymmetryReportCallback:
    data = ShapesDataModule(start=start, target=target, lmax=2, steps_per_epoch=1)
    net = {"_target_": "e3lab.nn.EquivariantConvNet", "irreps_in": str(data.irreps_in)}
    net.update(irreps_out=str(data.irreps_out), num_layers=1, lmax=2, radial_hidden=8)
    net["irreps_hidden"] = "2x0e + 1x1o + 1x2e"
    callback = SymmetryReportCallback()
    trainer = tiny_trainer(tmp_path, [callback], max_steps=1, limit_val_batches=0)
    trainer.fit(SignalRegressionModule(net), datamodule=data)
    return callback


def _logged(tmp_path: Path) -> dict[str, float]:
    """Every value in the CSV logger's file (the last one of each column)."""
    values: dict[str, float] = {}
    (path,) = (tmp_path / "csv").glob("version_*/metrics.csv")
    with path.open() as f:
        for row in csv.DictReader(f):
            values.update({k: float(v) for k, v in row.items() if v not in ("", None)})
    return values


def test_unreachable_target_is_logged_and_warned(tmp_path: Path) -> None:
    with pytest.warns(UnreachableTargetWarning, match=r"D4h \(16 elements\).*D2h \(8 elements\).*1x2e"):
        callback = _fit(tmp_path, "square", "rectangle")
    report = callback.report
    assert report is not None and not report.reachable
    logged = _logged(tmp_path)
    assert logged["symmetry/input_group_order"] == 16 and logged["symmetry/target_group_order"] == 8
    assert logged["symmetry/reachable"] == 0
    assert (logged["symmetry/proposal_l"], logged["symmetry/proposal_parity"]) == (2, 1)
    assert logged["symmetry/loss_floor"] == pytest.approx(report.floor, rel=1e-6) and report.floor > 0
    assert logged["symmetry/proposal_floor"] < 1e-10
    text = (tmp_path / "symmetry_report.txt").read_text()
    assert "D4h -> D2h" in text and "global 2e" in text
    saved = json.loads((tmp_path / "symmetry_report.json").read_text())
    assert (saved["input_group"], saved["target_group"]) == ("D4h", "D2h")
    assert saved["proposals"][0]["irreps"] == "1x2e" and len(saved["proposals"][0]["value"]) == 5


def test_reachable_target_does_not_warn(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreachableTargetWarning)
        callback = _fit(tmp_path, "rectangle", "square")
    assert callback.report.reachable and callback.report.proposals == ()
    logged = _logged(tmp_path)
    assert logged["symmetry/reachable"] == 1 and "symmetry/proposal_l" not in logged
    assert "nothing to propose" in (tmp_path / "symmetry_report.txt").read_text()


def test_graphs_it_cannot_analyze_are_skipped(tmp_path: Path) -> None:
    task = ToyTask()
    callback = SymmetryReportCallback(max_nodes=4)
    assert callback.analyze(task, make_batch((5, 7), task.net)) is None  # more than max_nodes
    collinear = make_batch((4,), task.net)
    collinear.pos = torch.arange(12.0).reshape(4, 3) * torch.tensor([1.0, 0.0, 0.0])
    assert callback.analyze(task, collinear) is None
    collinear.node_target = None
    assert first_graph(collinear) is None
    with pytest.raises(ValueError, match="max_nodes"):
        SymmetryReportCallback(max_nodes=2)


def test_first_graph_of_a_batch() -> None:
    batch = make_batch((3, 5))
    pos, x, target = first_graph(batch)
    assert torch.equal(pos, batch.pos[:3]) and torch.equal(x, batch.x[:3])
    assert torch.equal(target, batch.node_target[:3])
