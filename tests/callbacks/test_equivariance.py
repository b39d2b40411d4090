"""EquivarianceCallback: small errors for an equivariant net, large ones and a warning for a broken net."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from e3lab.callbacks import EquivarianceCallback, EquivarianceWarning
from e3lab.callbacks._equivariance_check import blockwise_relative_error, random_transform, transform_inputs
from e3lab.callbacks._graph_inputs import graph_inputs
from e3lab.nn import EquivariantConvNet
from e3lab.o3 import Irreps

from ._callback_toys import BrokenConvNet, ToyConvNet, ToyTask, batches, make_batch, tiny_trainer


def test_random_transform_permutes_within_graphs_and_includes_inversion():
    inputs = graph_inputs(make_batch(sizes=(3, 6, 4)))
    transform = random_transform(inputs, seed=1)
    assert torch.det(transform.matrix) == pytest.approx(-1.0)
    assert torch.equal(inputs.batch[transform.permutation], inputs.batch)
    assert not torch.equal(transform.permutation, torch.arange(13))
    assert torch.equal(transform.permutation.sort().values, torch.arange(13))


def test_transform_relabels_edges_consistently(float64):
    batch = make_batch(with_edges=True)
    inputs = graph_inputs(batch)
    transform = random_transform(inputs, seed=2)
    moved = transform_inputs(inputs, transform, Irreps("2x0e + 1x1o"))
    # An edge's length is invariant, so the multiset of (dst-src) lengths per relabelled edge must match.
    old = (inputs.pos[inputs.edge_index[1]] - inputs.pos[inputs.edge_index[0]]).norm(dim=1)
    new = (moved.pos[moved.edge_index[1]] - moved.pos[moved.edge_index[0]]).norm(dim=1)
    torch.testing.assert_close(old, new, rtol=0, atol=1e-12)


def test_blockwise_error_does_not_blow_up_on_a_zero_block(float64):
    irreps = Irreps("1x0e + 1x1o")
    reference = torch.cat([torch.randn(10, 1), torch.zeros(10, 3)], dim=1)
    noisy = reference + 1e-12 * torch.randn(10, 4)
    errors = blockwise_relative_error(noisy, reference, irreps)
    assert set(errors) == {"0_0e", "1_1o"}
    assert max(float(e) for e in errors.values()) < 1e-9
    # A genuine error in the zero block is still seen, at the scale of the whole output.
    broken = reference.clone()
    broken[:, 1:] = 0.5
    assert float(blockwise_relative_error(broken, reference, irreps)["1_1o"]) > 1.0


@pytest.mark.parametrize("with_edges", [False, True])
def test_equivariant_net_float64_mode_below_1e_10(float64, with_edges):
    net = ToyConvNet()  # built in float64, so its constants (e3nn's CG buffers) are exact
    metrics = EquivarianceCallback(float64=True).check(
        net, graph_inputs(make_batch(net=net, with_edges=with_edges))
    )
    assert metrics["equivariance/max_rel_error"] < 1e-10


def test_float64_mode_checks_a_copy_of_a_float32_net():
    net = ToyConvNet()
    metrics = EquivarianceCallback(float64=True).check(net, graph_inputs(make_batch(net=net)))
    # The copy computes in float64, but constants rounded to float32 at construction limit it to ~1e-8.
    assert metrics["equivariance/max_rel_error"] < 1e-7
    assert next(net.parameters()).dtype == torch.float32


def test_equivariant_net_float32_below_1e_5_and_mode_restored():
    net = ToyConvNet().train()
    callback = EquivarianceCallback()
    metrics = callback.check(net, graph_inputs(make_batch(net=net)))
    assert 0 < metrics["equivariance/max_rel_error"] < 1e-5
    assert net.training


def test_broken_net_gives_large_error_and_warns(float64):
    net = BrokenConvNet()
    with pytest.warns(EquivarianceWarning, match="exceeds threshold"):
        metrics = EquivarianceCallback(float64=True).check(net, graph_inputs(make_batch(net=net)))
    assert metrics["equivariance/rel_error/0_0e"] > 1e-2
    assert metrics["equivariance/max_rel_error"] == metrics["equivariance/rel_error/0_0e"]
    assert metrics["equivariance/rel_error/1_1o"] < 1e-10  # the other blocks stay equivariant


def test_callback_in_a_trainer_logs_keys_and_writes_the_run_file(tmp_path):
    net = ToyConvNet()
    callback = EquivarianceCallback(every_n_val_epochs=1, at_fit_end=True)
    trainer = tiny_trainer(tmp_path, [callback], max_epochs=2, limit_train_batches=2, limit_val_batches=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquivarianceWarning)
        trainer.fit(ToyTask(net), batches(2, net), batches(1, net))
    expected = {
        "equivariance/max_rel_error",
        "equivariance/mean_rel_error",
        "equivariance/rel_error/0_0e",
        "equivariance/rel_error/1_1o",
        "equivariance/rel_error/2_2e",
    }
    assert expected <= set(trainer.callback_metrics)
    records = [json.loads(line) for line in (tmp_path / "equivariance.jsonl").read_text().splitlines()]
    assert [r["when"] for r in records] == ["validation", "validation", "fit_end"]
    assert all(r["equivariance/max_rel_error"] < 1e-5 for r in records)
    csv_header = next((tmp_path / "csv").rglob("metrics.csv")).read_text().splitlines()[0]
    assert "equivariance/max_rel_error" in csv_header


def test_module_without_net_is_rejected(tmp_path):
    task = ToyTask()
    del task.net
    trainer = tiny_trainer(tmp_path, [EquivarianceCallback()], fast_dev_run=1)
    with pytest.raises(TypeError, match=r"needs ToyTask\.net"):
        trainer.fit(task, batches(1, ToyConvNet()))


def test_e3lab_equivariant_conv_net_float64_below_1e_10(float64):
    net = EquivariantConvNet(
        "0e + 1o + 2e", "4x0e + 2x1o + 2x1e + 2x2e", "0e + 1o + 2e", num_layers=2, lmax=2
    )
    metrics = EquivarianceCallback().check(net, graph_inputs(make_batch(sizes=(6, 7), net=net)))
    assert metrics["equivariance/max_rel_error"] < 1e-10
    assert set(metrics) >= {f"equivariance/rel_error/{b}_{ir}" for b, ir in enumerate(("0e", "1o", "2e"))}
