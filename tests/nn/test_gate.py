"""Gate: e3nn's layout and numbers, equivariance under rotation and inversion, second moment, errors."""

from __future__ import annotations

import pytest
import torch
from e3nn.nn import Gate as E3nnGate

from e3lab.nn import Gate
from e3lab.o3 import Irreps, rand_matrix

CASES = [
    ("16x0o", [torch.tanh], "32x0o", [torch.tanh], "16x1e+16x1o"),
    (
        "8x0e + 4x0o",
        [torch.relu, torch.abs],
        "2x0e + 3x0o + 2x0e",
        [torch.sigmoid, torch.tanh, torch.sigmoid],
        "1x1o + 2x2e + 1x1e + 3x1o",
    ),
    ("4x0e", [torch.nn.functional.silu], "", [], ""),
    ("", [], "3x0e", [torch.sigmoid], "1x1o + 2x3e"),
]


@pytest.mark.parametrize("args", CASES)
def test_matches_e3nn_float64(float64: None, copy_e3nn_constants, args: tuple) -> None:
    ours, theirs = Gate(*args), E3nnGate(*args)
    assert str(ours.irreps_in) == str(theirs.irreps_in)
    assert str(ours.irreps_out) == str(theirs.irreps_out)
    copy_e3nn_constants(ours, theirs)
    x = torch.randn(6, ours.irreps_in.dim)
    out = ours(x)
    assert out.shape == (6, ours.irreps_out.dim)
    torch.testing.assert_close(out, theirs(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("args", CASES)
def test_equivariance_rotation_and_inversion(float64: None, args: tuple) -> None:
    gate = Gate(*args)
    x = torch.randn(10, gate.irreps_in.dim)
    for R in (rand_matrix(), -rand_matrix()):
        D_in = Irreps(gate.irreps_in).D_from_matrix(R)
        D_out = Irreps(gate.irreps_out).D_from_matrix(R)
        err = (gate(x @ D_in.T) - gate(x) @ D_out.T).abs().max().item()
        assert err < 1e-10


def test_second_moment_near_one(float64: None) -> None:
    gate = Gate("32x0e", [torch.nn.functional.silu], "16x0e", [torch.sigmoid], "8x1o + 8x2e")
    y = gate(torch.randn(20_000, gate.irreps_in.dim))
    assert 0.85 < y.pow(2).mean().item() < 1.15


def test_float32_batch_dims() -> None:
    gate = Gate("2x0e", [torch.relu], "1x0e", [torch.sigmoid], "1x1o")
    y = gate(torch.randn(3, 4, gate.irreps_in.dim))
    assert y.shape == (3, 4, 5) and y.dtype == torch.float32


def test_errors() -> None:
    with pytest.raises(ValueError, match="one gate per gated irrep"):
        Gate("2x0e", [torch.relu], "1x0e", [torch.sigmoid], "2x1o")
    with pytest.raises(ValueError, match=r"irreps_gates=.*only scalars"):
        Gate("2x0e", [torch.relu], "1x1o", [None], "1x1o")
    with pytest.raises(ValueError, match=r"irreps_scalars=.*only scalars"):
        Gate("1x1e", [None], "1x0e", [torch.sigmoid], "1x1o")
    gate = Gate("2x0e", [torch.relu], "1x0e", [torch.sigmoid], "1x1o")
    with pytest.raises(ValueError, match=r"\[\.\.\., 6\]"):
        gate(torch.zeros(4, 5))
