"""The on/off switches of the tensor product's fast paths, each read from an environment variable at import
and changeable at run time.

- ``E3LAB_FAST_PATHS`` / :func:`set_fast_paths`: fast kernels (default) or the readable reference einsums
  everywhere. A module's own ``fast_path`` flag, when not ``None``, wins over this global setting.
- ``E3LAB_NATIVE`` / :func:`set_native`: the native C kernels on CPU where they apply (default) or never.
- ``E3LAB_TRITON`` / :func:`set_triton`: the generated Triton kernels for CUDA tensors (``1``, default), never
  (``0``), or also for CPU tensors through Triton's interpreter (``interpret``; tests without a GPU).

``0``, ``false``, ``off`` and ``no`` switch the first two off.
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "ENV_FAST_PATHS",
    "ENV_NATIVE",
    "ENV_TRITON",
    "fast_paths_enabled",
    "native_enabled",
    "set_fast_paths",
    "set_native",
    "set_triton",
    "triton_mode",
]

ENV_FAST_PATHS = "E3LAB_FAST_PATHS"
ENV_NATIVE = "E3LAB_NATIVE"
ENV_TRITON = "E3LAB_TRITON"
_OFF = ("0", "false", "off", "no")
_TRITON_MODES = ("1", "0", "interpret")


def _on(variable: str) -> bool:
    return os.environ.get(variable, "1").strip().lower() not in _OFF


_state: dict[str, object] = {
    "fast_paths": _on(ENV_FAST_PATHS),
    "native": _on(ENV_NATIVE),
    "triton": os.environ.get(ENV_TRITON, "1").strip().lower(),
}


def _check_bool(function: str, enabled: object) -> None:
    if not isinstance(enabled, bool):
        raise TypeError(f"{function} expects True or False, got {enabled!r}")


def set_fast_paths(enabled: bool) -> None:
    """Use the fast kernels (``True``, the default) or the reference einsums (``False``) everywhere."""
    _check_bool("set_fast_paths", enabled)
    _state["fast_paths"] = enabled


def fast_paths_enabled() -> bool:
    """Whether modules without their own ``fast_path`` flag use the fast kernels."""
    return bool(_state["fast_paths"])


def set_native(enabled: bool) -> None:
    """Use the native CPU kernels where they apply (``True``, the default) or never (``False``)."""
    _check_bool("set_native", enabled)
    _state["native"] = enabled


def native_enabled() -> bool:
    """Whether native kernels may be used (``E3LAB_NATIVE`` / :func:`set_native`)."""
    return bool(_state["native"])


def set_triton(mode: bool | str) -> None:
    """``True``/``"1"``: Triton kernels for CUDA tensors (default); ``False``/``"0"``: never; ``"interpret"``:
    also for CPU tensors, through Triton's interpreter (for testing the kernels without a GPU)."""
    value = ("1" if mode else "0") if isinstance(mode, bool) else str(mode).strip().lower()
    if value not in _TRITON_MODES:
        raise ValueError(f"set_triton expects True, False or 'interpret', got {mode!r}")
    _state["triton"] = value
    if value == "interpret" and "triton" not in sys.modules:
        os.environ["TRITON_INTERPRET"] = "1"  # Triton reads it when it and its kernels are defined


def triton_mode() -> str:
    """``"1"``, ``"0"`` or ``"interpret"`` (see :func:`set_triton`); an unknown ``E3LAB_TRITON`` raises."""
    if _state["triton"] not in _TRITON_MODES:
        raise ValueError(f"{ENV_TRITON}={_state['triton']!r}: use 1, 0 or interpret")
    return str(_state["triton"])
