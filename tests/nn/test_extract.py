"""Extract: e3nn's example, agreement with e3nn, input validation."""

from __future__ import annotations

import pytest
import torch
from e3nn.nn import Extract as E3nnExtract

from e3lab.nn import Extract


def test_docstring_example() -> None:
    c = Extract("1e + 0e + 0e", ["0e", "0e"], [(1,), (2,)])
    a, b = c(torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0]))
    assert a.tolist() == [1.0] and b.tolist() == [2.0]


def test_matches_e3nn(float64: None) -> None:
    args = ("2x0e + 1x1o + 3x2e + 1x0o", ["3x2e + 2x0e", "1x0o + 1x1o", ""], [(2, 0), (3, 1), ()])
    x = torch.randn(4, 5, 2 + 3 + 15 + 1)
    ours, theirs = Extract(*args)(x), E3nnExtract(*args)(x)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert torch.equal(a, b)


def test_squeeze_out() -> None:
    out = Extract("0e + 1o", ["1o"], [(1,)], squeeze_out=True)(torch.arange(4.0))
    assert torch.equal(out, torch.tensor([1.0, 2.0, 3.0]))


def test_errors() -> None:
    with pytest.raises(ValueError, match="one instruction tuple per output"):
        Extract("0e + 1o", ["0e", "1o"], [(0,)])
    with pytest.raises(ValueError, match="identical term"):
        Extract("0e + 1o", ["1o"], [(0,)])
    with pytest.raises(ValueError, match="out of range"):
        Extract("0e + 1o", ["1o"], [(2,)])
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        Extract("0e + 1o", ["1o"], [(1,)])(torch.zeros(3))
