"""Whether a check may read the values of tensors: only when that costs no host-device synchronisation.

Input checks that read values (index ranges, finiteness) call :func:`values_checkable` first. On the CPU
they run; on a GPU they are skipped, because reading a value there stalls the host until the device has
caught up, once per check, in every training step. GPU inputs are checked once, where their batch is
made (``collate_graphs``, ``collate_atoms``: in the data loader, on the CPU), and not again in the hot path.

Tests patch this one function to see which checks a GPU run would skip (``tests/graph/test_host_syncs.py``).
"""

from __future__ import annotations

import torch
from torch.fx.experimental.proxy_tensor import get_proxy_mode

__all__ = ["being_traced", "values_checkable"]


def values_checkable(*tensors: torch.Tensor) -> bool:
    """True when every tensor is on the CPU, so reading its values needs no device synchronisation."""
    return all(t.device.type == "cpu" for t in tensors)


def being_traced() -> bool:
    """True while ``torch.compile`` or ``make_fx`` traces (tensors have no values to read there)."""
    return torch.compiler.is_compiling() or get_proxy_mode() is not None
