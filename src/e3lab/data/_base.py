"""The DataModule plumbing every e3lab task shares: three splits of graphs, batched by a collate hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from e3lab.data._datasets import graph_loader
from e3lab.graph import collate_graphs


class GraphSplitsDataModule(L.LightningDataModule):
    """Base class: ``setup`` fills ``self._datasets`` with "train", "val" and "test" datasets of graphs.

    Subclasses save a ``batch_size`` hyperparameter; training batches are shuffled, the others are not.
    Items are batched by the ``collate_fn`` class attribute (``collate_graphs``: ``Graph`` ->
    ``GraphBatch``); a subclass whose items are another kind of graph sets it (atoms:
    ``staticmethod(collate_atoms)`` -> ``AtomsBatch``) and may override :meth:`_batch_size` to give the
    evaluation splits their own batch size.
    """

    # one batch from a list of dataset items; a plain function (picklable for loader workers)
    collate_fn: Callable[[list[Any]], Any] = staticmethod(collate_graphs)

    def __init__(self) -> None:
        super().__init__()
        self._datasets: dict[str, Dataset] = {}

    def _batch_size(self, split: str) -> int:
        """Batch size of ``split`` ("train", "val" or "test"); default the ``batch_size`` hyperparameter."""
        return self.hparams.batch_size

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self._datasets:
            raise RuntimeError(f"{type(self).__name__}: call setup() before the {split} dataloader")
        return graph_loader(
            self._datasets[split], self._batch_size(split), shuffle=shuffle, collate_fn=self.collate_fn
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
