"""Plots return figures that save to PNG/HTML."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

from e3lab.signal import from_vectors, plot_signal_3d, plot_signal_plotly, plot_task

SQUARE = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]])
RECTANGLE = SQUARE * torch.tensor([0.5, 1.5, 0.0])


@pytest.mark.parametrize("mode", ["abs", "positive"])
def test_plot_signal_3d_saves_png(tmp_path: Path, mode: str) -> None:
    coeffs = from_vectors((RECTANGLE - SQUARE)[:, None], 5)
    fig = plot_signal_3d(coeffs, center=SQUARE, res=12, scale=0.5, mode=mode)
    assert isinstance(fig, Figure) and len(fig.axes[0].collections) == 4
    fig.savefig(tmp_path / "signal.png")
    assert (tmp_path / "signal.png").stat().st_size > 1000
    one = plot_signal_3d(coeffs[0], res=8, ax=fig.axes[0])
    assert one is fig and len(fig.axes[0].collections) == 5


def test_plot_task_saves_png(tmp_path: Path) -> None:
    fig = plot_task(SQUARE, RECTANGLE, predicted=0.9 * (RECTANGLE - SQUARE), title="Task 2")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "Task 2"
    assert len(fig.axes[0].patches) == 8  # 4 target arrows and 4 predicted arrows
    fig.savefig(tmp_path / "task.png")
    assert (tmp_path / "task.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="predicted has shape"):
        plot_task(SQUARE, RECTANGLE, predicted=torch.zeros(3, 3))


@pytest.mark.skipif(importlib.util.find_spec("plotly") is None, reason="plotly is not installed")
def test_plot_signal_plotly_writes_html(tmp_path: Path) -> None:
    coeffs = from_vectors((RECTANGLE - SQUARE)[:, None], 5)
    fig = plot_signal_plotly(coeffs, center=SQUARE, res=10)
    assert len(fig.data) == 4 and fig.data[0].type == "surface"
    fig.write_html(tmp_path / "signal.html")
    assert (tmp_path / "signal.html").stat().st_size > 1000


def test_plot_signal_plotly_without_plotly_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ImportError, match="pip install"):
        plot_signal_plotly(torch.randn(4))
