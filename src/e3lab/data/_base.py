"""The DataModule plumbing every e3lab task shares: three splits of graphs, batched as ``GraphBatch``."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader, Dataset

from e3lab.data._datasets import graph_loader


class GraphSplitsDataModule(L.LightningDataModule):
    """Base class: ``setup`` fills ``self._datasets`` with "train", "val" and "test" datasets of ``Graph``s.

    Subclasses save a ``batch_size`` hyperparameter; training batches are shuffled, the others are not.
    """

    def __init__(self) -> None:
        super().__init__()
        self._datasets: dict[str, Dataset] = {}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self._datasets:
            raise RuntimeError(f"{type(self).__name__}: call setup() before the {split} dataloader")
        return graph_loader(self._datasets[split], self.hparams.batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
