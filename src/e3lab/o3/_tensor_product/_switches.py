"""Global switch between the fast tensor-product kernel and the readable reference (for checks and debugging).

The default comes from the environment variable ``E3LAB_FAST_PATHS`` (``0``, ``false``, ``off`` or ``no``
switch the fast paths off); :func:`set_fast_paths` changes it at run time. A module's own ``fast_path`` flag,
when not ``None``, wins over the global setting.
"""

from __future__ import annotations

import os

__all__ = ["ENV_VAR", "fast_paths_enabled", "set_fast_paths"]

ENV_VAR = "E3LAB_FAST_PATHS"
_OFF = ("0", "false", "off", "no")
_state = {"enabled": os.environ.get(ENV_VAR, "1").strip().lower() not in _OFF}


def set_fast_paths(enabled: bool) -> None:
    """Use the fast kernels (``True``, the default) or the reference einsums (``False``) everywhere."""
    if not isinstance(enabled, bool):
        raise TypeError(f"set_fast_paths expects True or False, got {enabled!r}")
    _state["enabled"] = enabled


def fast_paths_enabled() -> bool:
    """Whether modules without their own ``fast_path`` flag use the fast kernels."""
    return _state["enabled"]
