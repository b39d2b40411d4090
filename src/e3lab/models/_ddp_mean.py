"""``self.log`` arguments that make a val/test loss the exact mean over every graph of every DDP rank."""

from __future__ import annotations

from typing import Any

__all__ = ["eval_mean"]


def eval_mean(stage: str, num_graphs: int) -> dict[str, Any]:
    """Keyword arguments for ``self.log(f"{stage}/loss", loss, **eval_mean(stage, num_graphs))``.

    Lightning accumulates ``loss * batch_size`` and ``batch_size`` per rank; with ``sync_dist`` both sums
    are reduced over the ranks before the division, so with unpadded evaluation shards
    (:class:`e3lab.data.EpochSampler`) the result is the single-process mean. The batch size is a float:
    Lightning reduces an integer ``batch_size`` sum with an integer division by the world size, which
    truncates it (7 graphs on 2 ranks would count as 6). Training steps log the rank's own value (no
    synchronisation per step).
    """
    if stage == "train":
        return {"batch_size": num_graphs}
    return {"batch_size": float(num_graphs), "sync_dist": True}
