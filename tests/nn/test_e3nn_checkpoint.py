"""An e3nn checkpoint loaded into e3lab reproduces e3nn's outputs with the e3nn-compatible constant.

e3lab's ``normalize2mom`` constant is exact; e3nn's is a Monte Carlo estimate (~1e-3 relative off), so
``FullyConnectedNet`` and ``Gate`` differ by ~1e-3 unless e3lab is asked for e3nn's constant.
"""

from __future__ import annotations

import pytest
import torch
from e3nn.math import normalize2mom as e3nn_normalize2mom
from e3nn.nn import FullyConnectedNet as E3nnFullyConnectedNet
from e3nn.nn import Gate as E3nnGate

from e3lab.math import (
    get_normalize2mom_constant,
    normalize2mom,
    normalize2mom_constant,
    set_normalize2mom_constant,
)
from e3lab.nn import FullyConnectedNet, Gate

ACTS = [torch.relu, torch.tanh, torch.sigmoid, torch.nn.functional.silu, torch.abs, torch.nn.Softplus(beta=5)]


@pytest.mark.parametrize("act", ACTS)
def test_e3nn_constant_is_e3nns_to_the_last_bit(act) -> None:
    theirs = e3nn_normalize2mom(act)
    ours = normalize2mom(act, constant="e3nn")
    assert ours.cst == (1.0 if theirs._is_id else theirs.cst)
    assert abs(normalize2mom(act).cst - ours.cst) > 1e-6  # the exact constant is another number


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fully_connected_checkpoint(tmp_path, dtype: torch.dtype) -> None:
    hs, act = [5, 32, 16, 3], torch.nn.functional.silu
    theirs = E3nnFullyConnectedNet(hs, act, variance_in=2.0, variance_out=0.5).to(dtype)
    torch.save(theirs.state_dict(), tmp_path / "e3nn.pt")
    state = torch.load(tmp_path / "e3nn.pt")
    with normalize2mom_constant("e3nn"):
        ours = FullyConnectedNet(hs, act, variance_in=2.0, variance_out=0.5).to(dtype)
    exact = FullyConnectedNet(hs, act, variance_in=2.0, variance_out=0.5).to(dtype)
    ours.load_state_dict(state)
    exact.load_state_dict(state)
    x = torch.randn(64, hs[0], dtype=dtype)
    expected = theirs(x)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(ours(x), expected, atol=tol, rtol=tol)
    assert (exact(x) - expected).abs().max() > 1e-4  # the documented difference, without the option


def test_gate_checkpoint(float64: None) -> None:
    args = (
        "8x0e + 4x0o",
        [torch.relu, torch.abs],
        "3x0e + 2x0o",
        [torch.sigmoid, torch.tanh],
        "1o + 2x2e + 2x1e",
    )
    theirs = E3nnGate(*args)
    ours = Gate(*args)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(16, ours.irreps_in.dim)
    assert (ours(x) - theirs(x)).abs().max() > 1e-4
    with normalize2mom_constant("e3nn"):
        ours = Gate(*args)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-12, rtol=0)


def test_setting_and_its_errors() -> None:
    assert get_normalize2mom_constant() == "exact"
    with normalize2mom_constant("e3nn"):
        assert get_normalize2mom_constant() == "e3nn"
        assert normalize2mom(torch.tanh).constant == "e3nn"
        assert normalize2mom(torch.tanh, constant="exact").constant == "exact"
    assert get_normalize2mom_constant() == "exact"
    set_normalize2mom_constant("e3nn")
    try:
        assert FullyConnectedNet([2, 4, 1], torch.tanh).layer0.act.constant == "e3nn"
    finally:
        set_normalize2mom_constant("exact")
    with pytest.raises(ValueError, match=r"constant='mc'; expected one of \('exact', 'e3nn'\)"):
        normalize2mom(torch.tanh, constant="mc")
    with pytest.raises(ValueError, match="expected one of"):
        set_normalize2mom_constant("monte carlo")
    assert get_normalize2mom_constant() == "exact"
