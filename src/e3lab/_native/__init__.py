"""Native CPU kernels: C sources compiled at first use with the system C compiler and loaded with ctypes.

A kernel is built once per machine, source and precision into a cache folder (``E3LAB_CACHE_DIR``, default
``~/.cache/e3lab``) and reused afterwards. Everything here is optional: without a C compiler, callers use
their PyTorch paths. The on/off switch (``E3LAB_NATIVE``, ``e3lab.o3.set_native``) lives with the callers, in
``e3lab.o3._tensor_product._switches``.
"""

from e3lab._native._build import cache_dir, load_library, native_status

__all__ = ["cache_dir", "load_library", "native_status"]
