"""InteratomicPotential in a Trainer: EMA weights for validation and checkpoints, exact resume, the
checkpoint alone rebuilds the model, metrics in meV, ReduceLROnPlateau on val/loss."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from e3lab.graph import AtomsGraph, collate_atoms
from e3lab.models import InteratomicPotential

from ._atoms import CUTOFF, NEQUIP, SYMBOLS, structure

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def labelled(graphs: list[AtomsGraph]) -> list[AtomsGraph]:
    """Conservative targets a potential can learn: energy, forces and stress of a random teacher."""
    torch.manual_seed(123)
    teacher = InteratomicPotential({**NEQUIP, "num_features": 2}, SYMBOLS, CUTOFF, ema_decay=None).eval()
    out = []
    for g in graphs:
        pred = teacher.predict(collate_atoms([g]), stress=True)
        targets = {key: pred[key][0].detach() for key in ("energy", "stress")}
        out.append(dataclasses.replace(g, forces=pred["forces"].detach(), **targets))
    return out


def loaders() -> tuple[DataLoader, DataLoader]:
    train = labelled([structure(4, seed=k) for k in range(4)])
    val = labelled([structure(5, seed=10 + k) for k in range(2)])
    return (
        DataLoader(train, batch_size=2, collate_fn=collate_atoms),
        DataLoader(val, batch_size=2, collate_fn=collate_atoms),
    )


def model(**kwargs: object) -> InteratomicPotential:
    kwargs.setdefault("ema_decay", 0.9)
    kwargs.setdefault("optimizer", {"_target_": "torch.optim.Adam", "lr": 0.05})
    kwargs.setdefault("scheduler", {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "patience": 0})
    return InteratomicPotential(NEQUIP, SYMBOLS, CUTOFF, **kwargs)


def trainer(tmp_path: Path, max_steps: int) -> L.Trainer:
    # inference_mode left at Lightning's default: the model switches its evaluation loops to no_grad
    return L.Trainer(
        default_root_dir=tmp_path,
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )


def test_validation_uses_the_ema_and_a_resume_restores_it_exactly(tmp_path: Path) -> None:
    train, val = loaders()
    first = model()
    fit = trainer(tmp_path, max_steps=4)
    fit.fit(first, train, val)
    assert int(first.ema.n_averaged) == 4
    live = dict(first.net.named_parameters())
    averaged = dict(first.ema.module.named_parameters())
    assert any(not torch.equal(live[k], averaged[k]) for k in live)  # the average lags the live weights
    b = next(iter(val))
    # eval mode (validation, test, inference) runs the averaged weights, train mode the live ones
    twin = model(ema_decay=None)
    twin.load_state_dict({k: v for k, v in first.state_dict().items() if not k.startswith("ema.")})
    twin.net.load_state_dict(first.ema.module.state_dict())
    averaged_energy = first.eval().predict(b)["energy"]
    torch.testing.assert_close(twin.eval().predict(b)["energy"], averaged_energy, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(first.train().predict(b)["energy"], averaged_energy)
    assert fit.callback_metrics["val/forces_mae_mev_per_a"] > 0
    assert fit.lr_scheduler_configs[0].monitor == "val/loss"

    path = tmp_path / "model.ckpt"
    fit.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)  # plain types only: the hparams hold the net config
    assert checkpoint["hyper_parameters"]["net"] == NEQUIP
    assert checkpoint["hyper_parameters"]["chemical_symbols"] == SYMBOLS
    loaded = InteratomicPotential.load_from_checkpoint(path)  # nothing but the file
    for key, value in first.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.cutoff == CUTOFF and loaded.chemical_symbols == SYMBOLS

    # a resume restores the average bit for bit, then keeps updating it
    resumed = model()
    trainer(tmp_path, max_steps=4).fit(resumed, train, val, ckpt_path=path)  # restores, no new step
    for key, value in first.state_dict().items():
        if key.startswith("ema."):
            assert torch.equal(resumed.state_dict()[key], value), key
    trainer(tmp_path, max_steps=6).fit(resumed, train, val, ckpt_path=path)
    assert int(resumed.ema.n_averaged) == 6


def test_training_lowers_the_force_error(tmp_path: Path) -> None:
    train, _ = loaders()
    potential = model()
    before = trainer(tmp_path, max_steps=1)
    before.validate(potential, train)
    start = float(before.callback_metrics["val/forces_mae_mev_per_a"])
    fit = trainer(tmp_path, max_steps=30)
    fit.fit(potential, train, train)  # fit the training structures: the error must fall
    end = float(fit.callback_metrics["val/forces_mae_mev_per_a"])
    assert end < 0.5 * start, (start, end)
    assert set(fit.callback_metrics) >= {
        "train/loss_step",
        "val/loss",
        "val/energy_mae_mev_per_atom",
        "val/energy_rmse_mev_per_atom",
        "val/forces_rmse_mev_per_a",
        "val/stress_mae_mev_per_a3",
    }


def test_ema_off(tmp_path: Path) -> None:
    potential = model(ema_decay=None)
    assert potential.ema is None and potential.inference_net is potential.net
    train, val = loaders()
    trainer(tmp_path, max_steps=1).fit(potential, train, val)
    with pytest.raises(ValueError, match=r"ema_decay=1\.5"):
        model(ema_decay=1.5)
