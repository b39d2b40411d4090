"""Native CPU kernels: C sources compiled at first use with the system C compiler and loaded with ctypes.

A kernel is built once per machine, source and precision into a cache folder (``E3LAB_CACHE_DIR``, default
``~/.cache/e3lab``) and reused afterwards. Everything here is optional: without a C compiler, or with
``E3LAB_NATIVE=0`` in the environment (or :func:`set_native` ``(False)``), callers use their PyTorch paths.
"""

from e3lab._native._build import cache_dir, load_library, native_enabled, native_status, set_native

__all__ = ["cache_dir", "load_library", "native_enabled", "native_status", "set_native"]
