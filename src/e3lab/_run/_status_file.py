"""``<run dir>/status.json``: how the run ended, its metrics and what to do next, written atomically."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only

from e3lab.callbacks import atomic_write_text

__all__ = ["write_status"]


@rank_zero_only
def write_status(run_dir: str, status: str, metrics: Mapping[str, float], **extra: Any) -> None:
    """Write ``<run_dir>/status.json``: ``{"status": ..., "metrics": {...}, ...}`` (atomic: a killed run
    leaves the previous file whole).

    ``status`` is "completed", "interrupted" (a signal stopped training) or "failed". Non-finite metrics
    are written as null.
    """
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    payload = {"status": status, "metrics": clean, **extra}
    atomic_write_text(Path(run_dir) / "status.json", json.dumps(payload, indent=2, default=str))
