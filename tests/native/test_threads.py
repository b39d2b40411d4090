"""The native tensor product's row ranges run on PyTorch's own OpenMP runtime (one libgomp per process),
and a forked one-thread child (a data-loader worker) still computes after the parent ran in parallel."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import pytest
import torch

from e3lab import o3
from e3lab.o3._tensor_product._native_calls import library

pytestmark = pytest.mark.skipif(library(torch.float32) is None, reason="no C compiler: no native kernel")


def _product() -> tuple[o3.TensorProduct, tuple[torch.Tensor, ...]]:
    tp = o3.FullyConnectedTensorProduct(
        "10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e", shared_weights=False, internal_weights=False
    )
    gen = torch.Generator().manual_seed(0)
    rows = 1100  # two row ranges of at least 512 with two threads
    inputs = (
        torch.randn(rows, 40, generator=gen),
        torch.randn(rows, 9, generator=gen),
        torch.randn(rows, tp.weight_numel, generator=gen),
    )
    return tp, inputs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_kernel_uses_the_openmp_runtime_torch_loaded() -> None:
    maps = Path("/proc/self/maps").read_text().splitlines()
    runtimes = {line.split()[-1] for line in maps if "libgomp" in line or "libomp" in line}
    assert len(runtimes) == 1, runtimes  # two runtimes would mean two sets of threads fighting for the cores


def _child(tp: o3.TensorProduct, inputs: tuple, expected: torch.Tensor, queue: multiprocessing.Queue) -> None:
    torch.set_num_threads(1)  # what PyTorch's data-loader workers do
    queue.put(float((tp(*inputs) - expected).abs().max()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_a_forked_one_thread_child_computes_after_the_parent_ran_in_parallel() -> None:
    tp, inputs = _product()
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = tp(*inputs)  # two row ranges on two OpenMP threads
    finally:
        torch.set_num_threads(previous)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(tp, inputs, expected, queue))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the forked child hung or failed"
    assert queue.get(timeout=5) < 1e-5


def test_two_threads_give_the_one_thread_numbers() -> None:
    tp, inputs = _product()
    previous, results = torch.get_num_threads(), []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            results.append(tp(*inputs))
        finally:
            torch.set_num_threads(previous)
    torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=1e-6)
