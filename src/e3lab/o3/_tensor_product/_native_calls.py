"""How the native tensor product calls its C kernels: the compiled library with its signatures, row
ranges per thread (run by the library's ``tp_run`` on PyTorch's OpenMP threads, the GIL released),
per-thread accumulators and raw pointers.

Before ``tp_run``, the ranges ran on a pool of Python threads: PyTorch's OpenMP workers, which spin for a
while after each parallel operation, then held the cores those threads needed (seed layer, 37.9k rows, two
threads: backward 19.6 ms against 11.7 ms with the workers made passive; the same runtime now does both)."""

from __future__ import annotations

import ctypes
import itertools

import torch

from e3lab._native import load_library
from e3lab._native._memory import empty_on_huge_pages

__all__ = ["DTYPES", "available", "empty_like", "library", "ptr", "row", "run", "split", "summed"]

_LIBRARY = "tensor_product"
DTYPES = {torch.float32: "float32", torch.float64: "float64"}
_MIN_ROWS_PER_THREAD = 512


def library(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled kernel for ``dtype`` with its C signatures declared (pointers as ``void *``)."""
    lib = load_library(_LIBRARY, DTYPES[dtype])
    if lib is not None and lib.tp_forward.argtypes is None:
        i64, pointer = ctypes.c_int64, ctypes.c_void_p
        for variant in ("", "_lanes"):
            forward, backward = getattr(lib, f"tp_forward{variant}"), getattr(lib, f"tp_backward{variant}")
            second = getattr(lib, f"tp_double_backward{variant}")
            forward.argtypes = [i64] + [pointer] * 10 + [i64] + [pointer] * 3
            backward.argtypes = [i64] + [pointer] * 10 + [i64] + [pointer] * 8
            second.argtypes = [i64] + [pointer] * 10 + [i64] + [pointer] * 14
            forward.restype = backward.restype = second.restype = ctypes.c_int
        lib.tp_run.argtypes = [i64, i64, i64, pointer]
        lib.tp_run.restype = ctypes.c_int
    return lib


@torch.compiler.assume_constant_result
def available(dtype: torch.dtype) -> bool:
    """Whether the kernel for ``dtype`` is built (a constant to ``torch.compile``)."""
    return library(dtype) is not None


def ptr(t: torch.Tensor | None) -> int | None:
    """Address of ``t``'s data (``None`` for no tensor)."""
    return None if t is None else t.data_ptr()


def split(rows: int) -> list[tuple[int, int]]:
    """Row ranges, one per thread (``torch.get_num_threads()``, at most one per 512 rows)."""
    n = max(1, min(torch.get_num_threads(), rows // _MIN_ROWS_PER_THREAD))
    bounds = [rows * i // n for i in range(n + 1)]
    return list(itertools.pairwise(bounds))


_ENTRIES = ("forward", "backward", "double_backward")  # tp_run's entry numbers: these, then their _lanes


def _call_tp_run(number: int, chunks: list[tuple[int | None, ...]], dtype: torch.dtype) -> int:
    n_args = len(chunks[0])
    values = (ctypes.c_void_p * (len(chunks) * n_args))(*itertools.chain.from_iterable(chunks))
    return library(dtype).tp_run(number, len(chunks), n_args, values)


def run(entry: str, dtype: torch.dtype, chunks: list[tuple[int | None, ...]]) -> None:
    """Call ``tp_<entry>`` (e.g. ``backward_lanes``) once per chunk of arguments, in parallel through
    ``tp_run``; raise if a call reports an allocation failure. Arguments: ints (addresses, sizes) or None.
    """
    base, lanes = entry.removesuffix("_lanes"), entry.endswith("_lanes")
    number = _ENTRIES.index(base) + (len(_ENTRIES) if lanes else 0)
    code = _call_tp_run(number, chunks, dtype)
    if code == 1:
        raise MemoryError("e3lab native tensor product: could not allocate its scratch buffers")
    if code:
        raise RuntimeError(f"e3lab native tensor product: tp_run({entry!r}) returned {code}")


def empty_like(t: torch.Tensor) -> torch.Tensor:
    """A fresh gradient buffer shaped like ``t`` (2 MB pages when large: it is written once, all of it)."""
    return empty_on_huge_pages(*t.shape, like=t)


def row(t: torch.Tensor | None, a: int) -> int | None:
    """Address of row ``a`` of ``t`` (``None`` for no tensor)."""
    return None if t is None else t.data_ptr() + a * t.stride(0) * t.element_size()


def summed(parts: list[torch.Tensor] | None) -> torch.Tensor | None:
    """The sum of the per-thread accumulators."""
    if parts is None:
        return None
    return parts[0] if len(parts) == 1 else torch.stack(parts).sum(0)
