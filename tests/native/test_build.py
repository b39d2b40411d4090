"""Building and caching the native kernels, and falling back cleanly when they cannot be built."""

from __future__ import annotations

import pytest

from e3lab._native import _build


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """An empty library registry and cache folder (the real ones are left untouched)."""
    monkeypatch.setattr(_build, "_libraries", {})
    monkeypatch.setattr(_build, "_errors", {})
    monkeypatch.setenv(_build.ENV_CACHE, str(tmp_path))


def test_builds_once_into_the_cache_and_reuses_it(fresh, tmp_path) -> None:
    lib = _build.load_library("tensor_product", "float64")
    assert lib is not None and hasattr(lib, "tp_forward_lanes")
    built = list((tmp_path / "native").glob("tensor_product_float64_*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    _build._libraries.clear()
    assert _build.load_library("tensor_product", "float64") is not None
    assert built[0].stat().st_mtime_ns == stamp  # not rebuilt


def test_a_failing_compiler_gives_a_warning_and_none(fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "false")  # exists, exits 1
    with pytest.warns(RuntimeWarning, match="unavailable, using the PyTorch path"):
        assert _build.load_library("tensor_product", "float32") is None
    assert "failed on tensor_product.c" in _build.native_status()["tensor_product/float32"]


def test_no_compiler_at_all(fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_build, "_compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        assert _build.load_library("tensor_product", "float32") is None


def test_unknown_precision_is_an_error() -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        _build.load_library("tensor_product", "float16")
