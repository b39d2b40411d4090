"""Compile, cache and load the C kernels of this folder (see the package docstring)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

__all__ = ["cache_dir", "load_library", "native_status"]

ENV_CACHE = "E3LAB_CACHE_DIR"
# -march=native: the library is built on the machine that runs it (the cache key holds the CPU's flags);
# -fopenmp: `omp simd` reductions, and tp_run's parallel loop on libgomp, which resolves at load time to the
# libgomp.so.1 that torch has loaded (one OpenMP runtime and one set of worker threads in the process)
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp", "-fPIC", "-shared", "-std=c11")
PRECISIONS = {"float32": "float", "float64": "double"}

_libraries: dict[tuple[str, str], ctypes.CDLL | None] = {}
_errors: dict[tuple[str, str], str] = {}


def native_status() -> dict[str, str]:
    """``{"name/precision": "loaded" | reason it is not}`` for every library asked for so far."""
    return {
        f"{name}/{precision}": "loaded" if lib is not None else _errors.get((name, precision), "not built")
        for (name, precision), lib in _libraries.items()
    }


def _compiler() -> str | None:
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def _cpu_signature() -> str:
    """The CPU's instruction-set flags (``-march=native`` builds differ between CPUs)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def cache_dir(kind: str) -> Path:
    """Where e3lab keeps built code of one ``kind`` (``native``, ``triton``): ``E3LAB_CACHE_DIR/kind``."""
    root = os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "e3lab"
    return Path(root) / kind


def _build(name: str, precision: str) -> Path:
    """Compile ``name.c`` for ``precision`` into the cache (atomically) unless it is there; its path."""
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C compiler found (looked for $CC, cc, gcc, clang)")
    source = Path(__file__).with_name(f"{name}.c")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
    flags = (*FLAGS, f"-DREAL={PRECISIONS[precision]}")
    key = hashlib.sha256(
        "\0".join(
            [source.read_text(), version, " ".join(flags), _cpu_signature(), platform.machine()]
        ).encode()
    ).hexdigest()[:16]
    target = cache_dir("native") / f"{name}_{precision}_{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        result = subprocess.run(
            [compiler, *flags, str(source), "-o", str(built)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{compiler} failed on {source.name}:\n{result.stderr.strip()}")
        os.replace(built, target)  # atomic: concurrent builders each leave a complete file
    return target


def load_library(name: str, precision: str) -> ctypes.CDLL | None:
    """The compiled ``name.c`` for ``precision`` (``"float32"``/``"float64"``), or ``None`` if unbuildable.

    The first failure warns once with the reason (also in :func:`native_status`); callers fall back.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    key = (name, precision)
    if key not in _libraries:
        try:
            _libraries[key] = ctypes.CDLL(str(_build(name, precision)))
        except (OSError, RuntimeError) as error:
            _libraries[key] = None
            _errors[key] = str(error)
            warnings.warn(
                f"e3lab native kernel {name} ({precision}) unavailable, using the PyTorch path: {error}",
                RuntimeWarning,
                stacklevel=2,
            )
    return _libraries[key]
