"""Activation: parity rules, agreement with e3nn 0.6.0, errors."""

from __future__ import annotations

import pytest
import torch
from e3nn.nn import Activation as E3nnActivation

from e3lab.nn import Activation


@pytest.mark.parametrize(
    ("irreps", "acts", "irreps_out"),
    [
        ("4x0e + 2x1o + 3x0o", [torch.relu, None, torch.tanh], "4x0e+2x1o+3x0o"),
        ("3x0o + 2x0o", [torch.abs, torch.nn.functional.silu], None),  # silu on 0o: error
        ("3x0o", [torch.abs], "3x0e"),
        ("2x0e + 1x2e", [torch.sigmoid, None], "2x0e+1x2e"),
    ],
)
def test_irreps_out_matches_e3nn(irreps: str, acts: list, irreps_out: str | None) -> None:
    if irreps_out is None:
        with pytest.raises(ValueError, match="parity"):
            Activation(irreps, acts)
        with pytest.raises(ValueError):
            E3nnActivation(irreps, acts)
        return
    ours = Activation(irreps, acts)
    assert str(ours.irreps_out) == irreps_out == str(E3nnActivation(irreps, acts).irreps_out)


def test_matches_e3nn_float64(float64: None, copy_e3nn_constants) -> None:
    irreps, acts = "4x0e + 2x1o + 3x0o + 1x0e", [torch.relu, None, torch.tanh, torch.abs]
    ours, theirs = Activation(irreps, acts), E3nnActivation(irreps, acts)
    assert copy_e3nn_constants(ours, theirs) == 3
    x = torch.randn(7, ours.irreps_in.dim)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-10)


def test_dim_argument_and_float32() -> None:
    act = Activation("2x0e + 1x1o", [torch.tanh, None])
    x = torch.randn(4, 5, 2)
    y = act(x, dim=1)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y[:, 2:], x[:, 2:])
    torch.testing.assert_close(y[:, :2], torch.tanh(x[:, :2]) * act.acts[0].cst)


def test_errors() -> None:
    with pytest.raises(ValueError, match="one activation"):
        Activation("2x0e + 1x1o", [torch.tanh])
    with pytest.raises(ValueError, match="non-scalar"):
        Activation("1x1o", [torch.tanh])
    with pytest.raises(ValueError, match="size 5"):
        Activation("2x0e + 1x1o", [torch.tanh, None])(torch.zeros(2, 4))
