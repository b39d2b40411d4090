"""ForceConservationCallback: forces (and stress) against finite differences of the energy."""

from __future__ import annotations

import json

import pytest
import torch

from e3lab.callbacks import ForceConservationCallback, ForceConservationWarning, finite_difference_errors

from ._callback_toys import tiny_trainer
from ._potential_toys import ToyPotential, loader, real_potential, structures, wrong_backward_hook


def _errors(model, batch, step=1e-4, directions=3):
    return {
        k: float(v)
        for k, v in finite_difference_errors(
            model, batch, step, directions, torch.Generator().manual_seed(0)
        ).items()
    }


def test_autograd_forces_and_stress_agree_with_differences_in_float64(float64):
    torch.manual_seed(0)
    model = ToyPotential()
    errors = _errors(model, structures())  # a slab and a molecule: no stress
    assert set(errors) == {"force"} and errors["force"] < 1e-9, errors
    errors = _errors(model, structures(("bulk", "bulk")))
    assert set(errors) == {"force", "stress"}
    assert errors["force"] < 1e-9 and errors["stress"] < 1e-9, errors


def test_a_wrong_custom_backward_gives_a_large_error(float64):
    torch.manual_seed(0)
    good, bad = ToyPotential(), ToyPotential(wrong_backward=True)
    bad.load_state_dict(good.state_dict())
    batch = structures(("bulk", "bulk"))
    # the same energies: only the backward differs
    torch.testing.assert_close(bad.predict(batch)["energy"], good.predict(batch)["energy"])
    errors = _errors(bad, batch)
    assert errors["force"] > 1e-2 and errors["stress"] > 1e-2, errors


def test_interatomic_potential_conserves_and_a_hooked_wrong_backward_does_not(float64):
    model = real_potential().double().eval()
    batch = structures(("bulk", "bulk"))
    errors = _errors(model, batch)
    assert errors["force"] < 1e-8 and errors["stress"] < 1e-8, errors
    energy = model.predict(batch)["energy"]
    # the first layer's output unchanged, its gradient scaled: what a wrong custom kernel backward does
    model.inference_net.layers[0].register_forward_hook(wrong_backward_hook)
    torch.testing.assert_close(model.predict(batch)["energy"], energy)
    errors = _errors(model, batch)
    assert errors["force"] > 1e-2 and errors["stress"] > 1e-2, errors


def test_the_error_shrinks_with_the_step_as_the_stencil_says(float64):
    torch.manual_seed(0)
    model, batch = ToyPotential(), structures(("bulk",))
    coarse, fine = _errors(model, batch, step=2e-2)["force"], _errors(model, batch, step=1e-2)["force"]
    assert 8 < coarse / fine < 32  # O(h^4): 16x smaller for half the step


def test_callback_logs_at_validation_ends_and_warns_for_wrong_forces(tmp_path):
    torch.manual_seed(0)
    callback = ForceConservationCallback(seed=1)
    trainer = tiny_trainer(tmp_path / "good", [callback], max_epochs=2, inference_mode=False)
    model = ToyPotential()
    trainer.fit(model, loader(2, ("bulk", "bulk")), loader(1, ("bulk", "bulk")))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert metrics["physics/force_fd_rel_error"] < 1e-9 and metrics["physics/stress_fd_rel_error"] < 1e-9
    lines = [json.loads(x) for x in (tmp_path / "good" / "physics.jsonl").read_text().splitlines()]
    assert [r["when"] for r in lines] == ["validation", "validation", "fit_end"]
    assert model.dtype == torch.float32

    trainer = tiny_trainer(
        tmp_path / "bad", [ForceConservationCallback(at_fit_end=False)], inference_mode=False
    )
    with pytest.warns(ForceConservationWarning, match="physics/force_fd_rel_error"):
        trainer.fit(ToyPotential(wrong_backward=True), loader(1), loader(1))
    assert float(trainer.callback_metrics["physics/force_fd_rel_error"]) > 1e-2


def test_bad_arguments_are_rejected():
    for kwargs, match in (
        ({"step": 0.0}, "step"),
        ({"directions": 0}, "directions"),
        ({"threshold": -1.0}, "threshold"),
        ({"every_n_val_epochs": -1}, "every_n_val_epochs"),
    ):
        with pytest.raises(ValueError, match=match):
            ForceConservationCallback(**kwargs)
