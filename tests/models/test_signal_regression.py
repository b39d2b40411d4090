"""SignalRegressionModule: loss, metrics, symmetry floor, checkpoint round trip, irreps check, compile."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from e3lab.data import ShapesDataModule, TetrisDataModule
from e3lab.models import DisplacementError, PeakCount, SignalRegressionModule
from e3lab.signal import from_vectors

LMAX = 2
NET = {
    "_target_": "e3lab.nn.EquivariantConvNet",
    "irreps_in": "1x0e",
    "irreps_out": "1x0e + 1x1o + 1x2e",
    "irreps_hidden": "1x0e + 1x1o + 1x2e",
    "num_layers": 2,
    "lmax": LMAX,
    "radial_hidden": 8,
}


def _trainer(tmp_path: Path, steps: int) -> L.Trainer:
    return L.Trainer(
        default_root_dir=tmp_path,
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
        check_val_every_n_epoch=1,
    )


def test_displacement_error_uses_the_nearest_peak(float64: None) -> None:
    d = torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.2, 0.1]])
    target = from_vectors(d[:, None, :], 5)
    metric = DisplacementError()
    metric(target, target)
    assert metric.compute() < 1e-6
    # two equal peaks, at d and at its mirror image: the nearest one (d itself) counts
    two = from_vectors(torch.stack([d, d * torch.tensor([-1.0, -1.0, 1.0])], dim=1), 5)
    metric = DisplacementError()
    metric(two, target)
    assert metric.compute() < 0.02
    peaks = PeakCount()
    peaks(two)
    assert peaks.compute() == 2.0
    # zero prediction: the error is the length of the displacement
    metric = DisplacementError()
    metric(torch.zeros_like(target), target)
    assert torch.isclose(metric.compute(), d.norm(dim=1).mean().to(torch.float64))


def test_fit_logs_floor_and_checkpoint_loads_back(tmp_path: Path) -> None:
    dm = ShapesDataModule(start="square", target="rectangle", lmax=LMAX, steps_per_epoch=2)
    model = SignalRegressionModule(NET, optimizer=torch.optim.Adam)
    trainer = _trainer(tmp_path, steps=4)
    trainer.fit(model, datamodule=dm)
    metrics = trainer.callback_metrics
    assert metrics["symmetry/loss_floor"] > 0
    for key in ("train/loss", "val/loss", "val/displacement_error", "val/num_peaks"):
        assert key in metrics
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = SignalRegressionModule.load_from_checkpoint(path)
    batch = next(iter(dm.val_dataloader()))
    model.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))
    assert torch.load(path, weights_only=False)["e3lab_model_class"].endswith("SignalRegressionModule")


def test_irreps_mismatch_names_both(tmp_path: Path) -> None:
    model = SignalRegressionModule(NET)
    with pytest.raises(ValueError, match=r"model irreps_out=1x0e\+1x1o\+1x2e .* irreps_out=1x0o\+6x0e"):
        _trainer(tmp_path, steps=1).fit(model, datamodule=TetrisDataModule())


def test_compile_keeps_the_state_dict() -> None:
    """compile=True compiles self.net in place: same module and state-dict keys (portable checkpoints)."""
    model = SignalRegressionModule(NET, compile=True)
    keys = set(model.state_dict())
    net = model.net
    model.trainer = L.Trainer(logger=False, enable_progress_bar=False)  # attach so setup can run
    model.setup("fit")
    assert model.net is net
    assert set(model.state_dict()) == keys


def test_net_must_be_a_target_config() -> None:
    with pytest.raises(TypeError, match="net must be a config with a _target_"):
        SignalRegressionModule({"irreps_in": "1x0e"})
