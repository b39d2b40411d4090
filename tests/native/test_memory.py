"""Large native outputs are advised onto transparent huge pages; small ones and non-Linux are left alone."""

from __future__ import annotations

import sys

import pytest
import torch

from e3lab._native import _memory

HUGE = 1 << 21


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise(MADV_HUGEPAGE) is Linux-only")
def test_large_buffers_are_advised_on_their_whole_2mb_aligned_range(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = _memory._madvise(), []
    assert real is not None

    def recording(start: int, length: int, advice: int) -> int:
        calls.append((start, length, advice, real(start, length, advice)))
        return calls[-1][-1]

    monkeypatch.setitem(_memory._libc, "madvise", recording)
    t = _memory.empty_on_huge_pages(16 << 20, like=torch.zeros(1))  # 64 MB of float32: a fresh mapping
    assert t.shape == (16 << 20,) and t.dtype == torch.float32
    ((start, length, advice, result),) = calls
    begin, end = t.data_ptr(), t.data_ptr() + t.numel() * 4
    assert advice == 14 and result == 0  # MADV_HUGEPAGE, accepted
    assert start % HUGE == 0 and length % HUGE == 0
    assert begin <= start < begin + HUGE and end - HUGE < start + length <= end  # every whole 2 MB page
    t.fill_(1.5)
    assert float(t[::4096].sum()) == 1.5 * len(t[::4096])


def test_small_buffers_and_missing_madvise_are_plain_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setitem(_memory._libc, "madvise", lambda *args: calls.append(args) or 0)
    small = _memory.empty_on_huge_pages(3, 4, like=torch.zeros(1, dtype=torch.float64))
    assert small.shape == (3, 4) and small.dtype == torch.float64 and calls == []
    monkeypatch.setitem(_memory._libc, "madvise", None)
    assert _memory.empty_on_huge_pages(4 << 20, like=torch.zeros(1)).numel() == 4 << 20
