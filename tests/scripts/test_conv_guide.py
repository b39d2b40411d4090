"""scripts/conv_guide.py: the guide's numbers (second moments, equivariance, timing) and figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from e3lab.nn import STAGES
from e3lab.o3 import set_native


@pytest.fixture(scope="module")
def guide(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("conv_guide")


def test_graph_summary(guide: ModuleType) -> None:
    summary = guide.graph_summary(100)
    assert summary["num_edges"] > 0
    assert summary["z"] == pytest.approx(summary["num_edges"] / 100)


def test_second_moments_near_one(guide: ModuleType) -> None:
    moments = guide.second_moments(100)
    for name in ("input", "sh", "embedding", "summand", "output"):
        assert 0.5 < moments[name] < 2.0, (name, moments[name])
    assert abs(moments["weight_mean"]) < 0.3
    assert 0.5 < moments["weight_std"] < 2.0


def test_equivariance(guide: ModuleType) -> None:
    errors = guide.equivariance_errors(100)
    assert set(errors) == {"rotation", "inversion"}
    assert max(errors.values()) < 1e-10


@pytest.mark.parametrize("native", [True, False])
def test_stage_timings_cover_every_stage(guide: ModuleType, native: bool) -> None:
    """Every stage takes time, except scatter when the native CPU kernel runs it inside tensor_product."""
    set_native(native)
    try:
        t = guide.stage_timings(100, warmup=0)
    finally:
        set_native(True)
    for stage in STAGES:
        if stage != "gate":
            assert (t[stage] > 0) == (stage != "scatter" or not native), stage
    assert t["edges"] > 0 and t["wall"] > 0


def test_main_writes_figures(guide: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide.main(["--out", str(tmp_path), "--sizes"])  # timings: see test_stage_timings_cover_every_stage
    out = capsys.readouterr().out
    assert "average degree" in out and "rotation" in out and "FAILED" not in out
    for name in ("radial_basis.png", "tensor_product.png"):
        assert (tmp_path / name).stat().st_size > 1000
