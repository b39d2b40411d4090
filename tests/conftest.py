"""Shared pytest fixtures for e3lab's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture
def float64() -> Iterator[None]:
    """Run the test with float64 as the default dtype, restoring the previous default afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same random state, so failures reproduce."""
    torch.manual_seed(0)
