"""SummaryCallback: one closing report with metrics, equivariance, timing and the run directory."""

from __future__ import annotations

import io

from rich.console import Console

from e3lab.callbacks import EquivarianceCallback, SummaryCallback, TimingCallback
from e3lab.nn import STAGES

from ._callback_toys import ToyConvNet, ToyTask, batches, tiny_trainer


def test_summary_after_fit_and_test_shows_every_section(tmp_path):
    net = ToyConvNet()
    out = io.StringIO()
    callbacks = [
        EquivarianceCallback(at_fit_end=False),
        TimingCallback(every_n_steps=2, warmup=0, stages=STAGES),
        SummaryCallback(console=Console(file=out, width=120)),
    ]
    trainer = tiny_trainer(tmp_path, callbacks, max_steps=2, limit_val_batches=1)
    task = ToyTask(net)
    trainer.fit(task, batches(2, net), batches(1, net))
    text = out.getvalue()
    for expected in (
        "fit: final metrics",
        "val/loss",
        "equivariance (relative error)",
        "max_rel_error",
        "rel_error/2_2e",
        "timing per stage",
        "tensor_product",
        str(tmp_path.resolve()),
        "last checkpoint" if trainer.checkpoint_callback.last_model_path else "best checkpoint",
    ):
        assert expected in text, expected
    assert "timing/" not in text.split("equivariance (relative error)")[0]  # own metrics not duplicated
    assert (tmp_path / "summary_fit.txt").read_text() == text

    trainer.test(task, batches(1, net), verbose=False)
    assert "test: final metrics" in out.getvalue() and "test/loss" in out.getvalue()
    assert (tmp_path / "summary_test.txt").exists()
