"""``${training_data_stats:<key>}``: model configs read statistics of the built datamodule's training split.

NequIP's pattern: ``train.py`` builds the datamodule, calls :func:`register_training_data_stats` with it,
then builds the model, whose config may say e.g.
``avg_num_neighbors: ${training_data_stats:avg_num_neighbors}``.
The statistics are computed (or read from the data cache) on first use only.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

__all__ = ["register_training_data_stats"]


def register_training_data_stats(datamodule: Any) -> None:
    """Register the ``training_data_stats`` resolver, reading ``datamodule.statistics()`` (a dict)."""
    cache: dict[str, dict[str, Any]] = {}

    def resolve(key: str) -> Any:
        if "stats" not in cache:
            statistics = getattr(datamodule, "statistics", None)
            if not callable(statistics):
                raise ValueError(
                    f"the config reads ${{training_data_stats:{key}}} but the data "
                    f"({type(datamodule).__name__}) has no statistics(): use an atoms data config "
                    "(e.g. data=emt_cu) or write the value in"
                )
            cache["stats"] = dict(statistics())
        stats = cache["stats"]
        if key not in stats:
            raise ValueError(
                f"${{training_data_stats:{key}}}: the training data has no statistic {key!r}; it has "
                f"{sorted(stats)} (energy and force statistics need those targets in the data)"
            )
        return stats[key]

    OmegaConf.register_new_resolver("training_data_stats", resolve, replace=True, use_cache=False)
