"""Small models, batches and a LightningModule for the callback tests (e3nn as the equivariant oracle)."""

from __future__ import annotations

import dataclasses

import lightning.pytorch as pl
import torch
from e3nn import nn as e3nn_nn
from e3nn import o3 as e3nn_o3
from e3nn.math import soft_one_hot_linspace
from torch.profiler import record_function
from torch.utils.data import DataLoader

from e3lab.o3 import Irreps


@dataclasses.dataclass
class ToyBatch:
    """Stand-in for ``e3lab.graph.GraphBatch`` with the fields the callbacks read."""

    pos: torch.Tensor
    x: torch.Tensor
    batch: torch.Tensor
    ptr: torch.Tensor
    edge_index: torch.Tensor | None
    node_target: torch.Tensor
    graph_target: torch.Tensor | None = None

    def to(self, *args, **kwargs) -> ToyBatch:
        return ToyBatch(
            **{
                f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(*args, **kwargs)
                for f in dataclasses.fields(self)
            }
        )


def full_graph(batch: torch.Tensor) -> torch.Tensor:
    """All ordered pairs ``(src, dst)`` of distinct nodes of the same graph: ``[2, E]``."""
    same = batch[:, None] == batch[None, :]
    same.fill_diagonal_(False)
    return same.nonzero().T


class ToyConvNet(torch.nn.Module):
    """One equivariant convolution built from e3nn, each stage inside its ``record_function`` range."""

    def __init__(self, irreps_in: str = "2x0e + 1x1o", irreps_out: str = "1x0e + 2x1o + 1x2e", lmax: int = 2):
        super().__init__()
        self.irreps_in, self.irreps_out = Irreps(irreps_in), Irreps(irreps_out)
        self.irreps_sh = e3nn_o3.Irreps.spherical_harmonics(lmax)
        self.tp = e3nn_o3.FullyConnectedTensorProduct(
            irreps_in, self.irreps_sh, irreps_out, shared_weights=False
        )
        self.fc = e3nn_nn.FullyConnectedNet([8, 16, self.tp.weight_numel], torch.relu)

    def forward(self, x, pos, batch=None, edge_index=None):
        with record_function("radius_graph"):
            if batch is None:
                batch = torch.zeros(len(pos), dtype=torch.long, device=pos.device)
            if edge_index is None:
                edge_index = full_graph(batch)
        src, dst = edge_index
        vec = pos[dst] - pos[src]
        with record_function("spherical_harmonics"):
            sh = e3nn_o3.spherical_harmonics(self.irreps_sh, vec, True, normalization="component")
        with record_function("radial_embedding"):
            emb = soft_one_hot_linspace(vec.norm(dim=1), 0.0, 3.0, 8, basis="gaussian", cutoff=False)
        with record_function("radial_mlp"):
            weight = self.fc(emb)
        with record_function("tensor_product"):
            messages = self.tp(x[src], sh, weight)
        with record_function("scatter"):
            return messages.new_zeros(len(pos), self.irreps_out.dim).index_add(0, dst, messages)


class BrokenConvNet(ToyConvNet):
    """Adds ``pos[:, 0]`` to the first scalar output: not rotation or translation equivariant."""

    def forward(self, x, pos, batch=None, edge_index=None):
        out = super().forward(x, pos, batch, edge_index)
        return torch.cat([out[:, :1] + pos[:, :1], out[:, 1:]], dim=1)


def make_batch(sizes=(5, 7), net: ToyConvNet | None = None, with_edges: bool = False) -> ToyBatch:
    """Random graphs of ``sizes`` nodes, concatenated; targets laid out by ``net.irreps_out``."""
    net = net or ToyConvNet()
    batch = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in enumerate(sizes)])
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    n = int(ptr[-1])
    return ToyBatch(
        pos=torch.randn(n, 3),
        x=torch.randn(n, net.irreps_in.dim),
        batch=batch,
        ptr=ptr,
        edge_index=full_graph(batch) if with_edges else None,
        node_target=torch.randn(n, net.irreps_out.dim),
    )


def _identity(batch: ToyBatch) -> ToyBatch:
    return batch


def batches(num: int, net: ToyConvNet, sizes=(4, 5)) -> DataLoader:
    """A dataloader of ``num`` fixed random batches."""
    return DataLoader([make_batch(sizes, net) for _ in range(num)], batch_size=None, collate_fn=_identity)


class ToyTask(pl.LightningModule):
    """``pl_module.net`` regressed onto ``node_target`` with MSE; ``nan_at_step`` poisons one loss."""

    def __init__(self, net: torch.nn.Module | None = None, lr: float = 1e-2, nan_at_step: int | None = None):
        super().__init__()
        self.net = net if net is not None else ToyConvNet()
        self.lr = lr
        self.nan_at_step = nan_at_step

    def _loss(self, batch: ToyBatch) -> torch.Tensor:
        out = self.net(batch.x, batch.pos, batch.batch, batch.edge_index)
        return (out - batch.node_target).pow(2).mean()

    def training_step(self, batch: ToyBatch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        if self.nan_at_step is not None and self.global_step >= self.nan_at_step:
            loss = loss * torch.nan
        self.log("train/loss", loss, batch_size=len(batch.pos))
        return loss

    def validation_step(self, batch: ToyBatch, batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch), batch_size=len(batch.pos))

    def test_step(self, batch: ToyBatch, batch_idx: int) -> None:
        self.log("test/loss", self._loss(batch), batch_size=len(batch.pos))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def tiny_trainer(tmp_path, callbacks, **kwargs) -> pl.Trainer:
    """A CPU trainer writing under ``tmp_path``, no progress bar, no model summary, CSV logger."""
    options = {
        "default_root_dir": tmp_path,
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": pl.loggers.CSVLogger(tmp_path, name="csv"),
        "num_sanity_val_steps": 0,
    }
    options.update(kwargs)
    return pl.Trainer(callbacks=callbacks, **options)
