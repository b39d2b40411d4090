"""All callbacks together on e3lab's own shapes DataModule and SignalRegressionModule."""

from __future__ import annotations

import json
import warnings

import lightning.pytorch as pl
import pytest
import torch

from e3lab.callbacks import (
    AtomicCheckpointIO,
    EquivarianceCallback,
    EquivarianceWarning,
    FiniteLossGuard,
    GracefulShutdown,
    SignalPlotCallback,
    SummaryCallback,
    TimingCallback,
)
from e3lab.data import ShapesDataModule
from e3lab.models import SignalRegressionModule


@pytest.mark.slow
def test_shapes_run_with_every_callback(tmp_path):
    data = ShapesDataModule(start="square", target="rectangle", lmax=2, steps_per_epoch=2)
    net = {"_target_": "e3lab.nn.EquivariantConvNet", "irreps_in": str(data.irreps_in)}
    net.update(irreps_out=str(data.irreps_out), num_layers=1, lmax=2)
    net["irreps_hidden"] = "4x0e + 2x1o + 2x1e + 2x2e"
    module = SignalRegressionModule(net)
    callbacks = [
        EquivarianceCallback(),
        TimingCallback(every_n_steps=2, warmup=0),
        SignalPlotCallback(nodes=(0,)),
        SummaryCallback(),
        FiniteLossGuard(),
        GracefulShutdown(),
        pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "checkpoints", save_last=True),
    ]
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        max_epochs=2,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=pl.loggers.CSVLogger(tmp_path, name="csv"),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquivarianceWarning)
        trainer.fit(module, datamodule=data)

    assert float(trainer.callback_metrics["equivariance/max_rel_error"]) < 1e-5
    assert float(trainer.callback_metrics["timing/tensor_product_bwd_ms"]) > 0
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == [f"epoch_{e:03d}_{n}.png" for e in (0, 1) for n in ("node_0", "task")]
    assert len((tmp_path / "equivariance.jsonl").read_text().splitlines()) == 3
    assert sorted(p.name for p in (tmp_path / "timing").iterdir())[:3] == [
        "step_0000002.csv",
        "step_0000002.md",
        "step_0000002.png",
    ]
    assert "timing per stage" in (tmp_path / "summary_fit.txt").read_text()
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4
    assert json.loads((tmp_path / "equivariance.jsonl").read_text().splitlines()[-1])["when"] == "fit_end"
