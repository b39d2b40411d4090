"""Fixtures for the nn tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _copy_normalize2mom_constants(ours: torch.nn.Module, theirs: torch.nn.Module) -> int:
    """Give every e3lab ``normalize2mom`` in ``ours`` the constant of its e3nn twin in ``theirs``.

    Both module trees must list their normalize2mom modules in the same order. e3nn's constant is a
    fixed-seed Monte Carlo estimate (~1e-3 off the exact value that e3lab computes); copying it lets a
    model comparison reach 1e-10. Returns the number of constants copied.
    """
    ours_n = [m for m in ours.modules() if type(m).__name__ == "normalize2mom"]
    theirs_n = [m for m in theirs.modules() if type(m).__name__ == "normalize2mom"]
    assert len(ours_n) == len(theirs_n), (len(ours_n), len(theirs_n))
    for a, b in zip(ours_n, theirs_n, strict=True):
        a.cst = 1.0 if b._is_id else b.cst
    return len(ours_n)


@pytest.fixture
def copy_e3nn_constants() -> Callable[[torch.nn.Module, torch.nn.Module], int]:
    """The function that copies e3nn's normalize2mom constants into an e3lab module tree."""
    return _copy_normalize2mom_constants
