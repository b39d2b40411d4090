"""Large native outputs are allocated on transparent huge pages where Linux allows it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from e3lab._native import _memory


def _anon_huge_kb_at(address: int) -> int | None:
    """AnonHugePages (kB) of the mapping holding ``address``, from /proc/self/smaps (None if unreadable)."""
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(part, 16) for part in head.split("-"))
            inside = lo <= address < hi
        elif inside and line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return None


def test_large_buffers_get_huge_pages_when_the_system_allows_it() -> None:
    t = _memory.empty_on_huge_pages(8 << 20, like=torch.zeros(1))  # 32 MB of float32
    assert t.shape == (8 << 20,) and t.dtype == torch.float32
    t.fill_(1.5)
    assert float(t.sum()) == 1.5 * (8 << 20)
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    mode = thp.read_text() if sys.platform.startswith("linux") and thp.exists() else ""
    if "[madvise]" not in mode and "[always]" not in mode:
        pytest.skip(f"transparent huge pages unavailable here ({mode.strip() or 'not Linux'})")
    # madvise splits the mapping at the first 2 MB boundary inside the buffer: look in the middle of it
    huge = _anon_huge_kb_at(t.data_ptr() + t.numel() * t.element_size() // 2)
    if huge is None:
        pytest.skip("/proc/self/smaps unreadable")
    assert huge >= 2048  # at least one 2 MB page backs the buffer


def test_small_buffers_and_missing_madvise_are_plain_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _memory.empty_on_huge_pages(3, 4, like=torch.zeros(1, dtype=torch.float64))
    assert small.shape == (3, 4) and small.dtype == torch.float64
    monkeypatch.setitem(_memory._libc, "madvise", None)
    large = _memory.empty_on_huge_pages(4 << 20, like=torch.zeros(1))
    assert large.numel() == 4 << 20
