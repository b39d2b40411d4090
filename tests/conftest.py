"""Shared pytest fixtures for e3lab's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# The unit tests are many small ops: on a 2-core machine, intra-op threads cost more in hand-offs than
# they gain (measured: gradcheck 42 s with 2 threads, 3 s with 1). Subprocess tests set their own.
torch.set_num_threads(1)

# Without a GPU, the Triton kernels' tests run in Triton's interpreter, which must be chosen before triton is
# imported (tests/o3/test_tensor_product_triton.py).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """``dtype`` as torch's default dtype inside the block, the previous default restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@pytest.fixture
def float64() -> Iterator[None]:
    """Run the test with float64 as the default dtype."""
    with default_dtype(torch.float64):
        yield


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    """Every test starts from the same random state and float32 default dtype, and cannot leak either."""
    torch.manual_seed(0)
    with default_dtype(torch.float32):
        yield
