"""scripts/bench.py: a tiny run of the harness writes a table with every case, implementation and ratio."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bench(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("bench")


def test_tiny_run_has_every_case_and_ratio_column(bench: ModuleType, tmp_path: Path) -> None:
    argv = ["--scale", "0.004", "--repeats", "1", "--inner", "1", "--warmup", "1", "--no-compile"]
    result = bench.main([*argv, "--out-dir", str(tmp_path), "--tag", "tiny"])
    rows = result["results"]
    assert {row["case"] for row in rows} == set(bench.SIZES)
    for case in bench.SIZES:
        ours = [r for r in rows if r["case"] == case and r["impl"] == "e3lab"]
        assert len(ours) == 1 and ours[0]["train_ms"] > 0 and ours[0]["peak_mb"] > 0
        assert ours[0]["x vs e3nn"] > 0  # e3nn ran beside it
        assert any(r["impl"] == "e3nn" for r in rows if r["case"] == case)
    table = (tmp_path / "tiny.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| case"))
    for column in ["forward_ms", "train_ms", "m_items_per_s", "peak_mb", *bench.RATIO_COLUMNS]:
        assert f" {column} " in header
    assert {"x vs e3nn", "x vs e3nn-compiled", "x vs cueq"} <= set(bench.RATIO_COLUMNS)
    assert not any(row["impl"] == "cueq" for row in rows)  # on a CPU only when asked for
    for case in bench.SIZES:
        assert f"| {case} | e3lab |" in table
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert saved["meta"]["cpu"] and saved["meta"]["torch"] and saved["meta"]["e3nn"] == "0.6.0"
    assert len(saved["results"]) == len(rows)


def test_unknown_case_is_rejected(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--cases", "tp_nope", "--out-dir", str(tmp_path)])


def test_impls_selects_rows_and_rejects_unknown(bench: ModuleType, tmp_path: Path) -> None:
    argv = ["--scale", "0.004", "--repeats", "1", "--inner", "1", "--warmup", "1", "--cases", "tp_seed"]
    result = bench.main([*argv, "--impls", "e3lab,e3nn", "--out-dir", str(tmp_path), "--tag", "sel"])
    assert [row["impl"] for row in result["results"]] == ["e3lab", "e3nn"]
    assert result["meta"]["malloc"] == "default"  # --keep-freed-memory not given
    assert "e3lab-compiled" in bench.OURS  # the compiled e3lab row exists (skipped here: compiling is slow)
    with pytest.raises(SystemExit):
        bench.main([*argv, "--impls", "e3nn", "--out-dir", str(tmp_path)])
    result = bench.main([*argv, "--impls", "e3lab,cueq", "--out-dir", str(tmp_path), "--tag", "cueq"])
    assert [row["impl"] for row in result["results"]] == ["e3lab", "cueq"]  # a dev dependency
    assert result["results"][1]["train_ms"] > 0


def test_a_run_that_dies_keeps_the_cases_it_finished(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measure = bench._run_case

    def dies_on_the_second_case(name: str, *args: object) -> list[dict]:
        if name == "sh_l6":
            raise MemoryError("killed")
        return measure(name, *args)

    monkeypatch.setattr(bench, "_run_case", dies_on_the_second_case)
    argv = ["--scale", "0.004", "--repeats", "1", "--inner", "1", "--warmup", "1", "--impls", "e3lab,e3nn"]
    with pytest.raises(MemoryError):
        bench.main([*argv, "--cases", "sh_l2,sh_l6", "--out-dir", str(tmp_path), "--tag", "died"])
    saved = json.loads((tmp_path / "died.json").read_text())
    assert [(row["case"], row["impl"]) for row in saved["results"]] == [("sh_l2", "e3lab"), ("sh_l2", "e3nn")]
    assert "| sh_l2 | e3lab |" in (tmp_path / "died.md").read_text()
