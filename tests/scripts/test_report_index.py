"""``scripts/report.py``'s index of experiments: a row per reported experiment, links to the benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType


def test_the_index_lists_experiments_and_links_the_benchmarks_without_reading_their_results(
    load_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    report = load_script("report")
    tetris = {
        "name": "tetris",
        "claim": "100% test accuracy",
        "pass": True,
        "metrics": {"test/acc": 1.0},
        "wall_s": 12.7,
        "load": 0.5,
        "command": "python train.py experiment=tetris",
        "machine": "2 CPU cores",
    }
    (tmp_path / "tetris").mkdir()
    (tmp_path / "tetris" / "results.json").write_text(json.dumps(tetris))
    (tmp_path / "nequip_comparison").mkdir()  # a benchmark's results.json has another layout
    (tmp_path / "nequip_comparison" / "results.json").write_text(json.dumps({"runs": {}, "md": []}))
    report.write_index(tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "| [tetris](tetris/README.md) | 100% test accuracy | PASS | test/acc 1 | 12.7 |" in text
    assert "- [nequip_comparison/](nequip_comparison/README.md): `scripts/bench_nequip.py`" in text
    assert "- [benchmarks/](benchmarks/README.md)" in text
