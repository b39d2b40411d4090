"""SignalPlotCallback: PNGs for a signal-valued shapes task, a graceful skip for anything else."""

from __future__ import annotations

import pytest
import torch
from matplotlib.image import imread
from torch.utils.data import DataLoader

from e3lab.callbacks import SignalPlotCallback
from e3lab.callbacks._signal_plot import signal_lmax
from e3lab.nn import EquivariantConvNet
from e3lab.o3 import Irreps
from e3lab.signal import from_vectors

from ._callback_toys import ToyBatch, ToyConvNet, ToyTask, batches, full_graph, tiny_trainer

LMAX = 2


def _shapes_loader() -> DataLoader:
    """The tutorial's square -> rectangle task: one graph of 4 nodes, signal targets (lmax 2)."""
    square = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    square = square - square.mean(0)
    rectangle = square * torch.tensor([0.5, 1.5, 0.0])
    x = torch.zeros(4, (LMAX + 1) ** 2)
    x[:, 0] = 1.0
    batch = torch.zeros(4, dtype=torch.long)
    item = ToyBatch(
        pos=square,
        x=x,
        batch=batch,
        ptr=torch.tensor([0, 4]),
        edge_index=full_graph(batch),
        node_target=from_vectors((rectangle - square)[:, None, :], LMAX),
    )
    return DataLoader([item], batch_size=None, collate_fn=lambda b: b)


def test_signal_lmax_recognises_only_signal_layouts():
    assert signal_lmax(Irreps("0e + 1o + 2e + 3o")) == 3
    assert signal_lmax(Irreps("0e")) == 0
    assert signal_lmax(Irreps("0e + 1e")) is None
    assert signal_lmax(Irreps("2x0e + 1o")) is None
    assert signal_lmax(Irreps("1o + 0e")) is None


def test_shapes_task_writes_the_arrow_plot_and_node_signals(tmp_path):
    irreps = Irreps.spherical_harmonics(LMAX)
    net = EquivariantConvNet(irreps, irreps, irreps, num_layers=1, lmax=LMAX, radial_hidden=8)
    callback = SignalPlotCallback(every_n_val_epochs=2, nodes=(0, 3, 9))
    trainer = tiny_trainer(tmp_path, [callback], max_epochs=2, limit_train_batches=1)
    trainer.fit(ToyTask(net), _shapes_loader(), _shapes_loader())
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["epoch_001_node_0.png", "epoch_001_node_3.png", "epoch_001_task.png"]  # node 9: absent
    for path in callback.written:
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image[..., :3].std() > 0.01  # not blank


def test_non_signal_task_is_skipped_without_files(tmp_path):
    net = ToyConvNet()  # irreps_out 1x0e + 2x1o + 1x2e is not a signal
    callback = SignalPlotCallback()
    trainer = tiny_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=1, limit_val_batches=1)
    trainer.fit(ToyTask(net), batches(1, net), batches(1, net))
    assert callback.written == [] and not (tmp_path / "plots").exists()


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="every_n_val_epochs=0"):
        SignalPlotCallback(every_n_val_epochs=0)
    with pytest.raises(ValueError, match="lmax=-1"):
        SignalPlotCallback(lmax=-1)
