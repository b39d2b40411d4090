"""FullyConnectedNet: e3nn's state-dict layout and numbers, variance preservation, input errors."""

from __future__ import annotations

import pytest
import torch
from e3nn.nn import FullyConnectedNet as E3nnFullyConnectedNet

from e3lab.nn import FullyConnectedNet


@pytest.mark.parametrize(
    ("hs", "act", "kwargs"),
    [
        ([3, 16, 8], torch.relu, {}),
        ([5, 7, 7, 4], torch.nn.functional.silu, {"variance_in": 2, "variance_out": 3}),
        ([4, 6, 2], torch.tanh, {"out_act": True, "variance_out": 0.5}),
        ([4, 2], None, {}),
    ],
)
def test_matches_e3nn_with_copied_weights(
    float64: None, copy_e3nn_constants, hs: list[int], act, kwargs: dict
) -> None:
    theirs = E3nnFullyConnectedNet(hs, act, **kwargs)
    ours = FullyConnectedNet(hs, act, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]
    ours.load_state_dict(theirs.state_dict())
    copy_e3nn_constants(ours, theirs)
    x = torch.randn(10, hs[0])
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-10)


def test_second_moment_preserved(float64: None) -> None:
    net = FullyConnectedNet([16, 256, 256, 64], torch.nn.functional.silu)
    y = net(torch.randn(4000, 16))
    assert 0.7 < y.pow(2).mean().item() < 1.3
    net = FullyConnectedNet([16, 256, 64], torch.relu, variance_in=4.0, variance_out=9.0)
    y = net(2.0 * torch.randn(4000, 16))
    assert 0.7 < y.pow(2).mean().item() / 9.0 < 1.3


def test_weights_standard_normal_no_bias() -> None:
    net = FullyConnectedNet([50, 200, 30], torch.relu)
    assert [n for n, _ in net.named_parameters()] == ["layer0.weight", "layer1.weight"]
    w = net.layer0.weight
    assert abs(w.mean().item()) < 0.05 and abs(w.std().item() - 1) < 0.05


def test_float32_and_batch_dims() -> None:
    net = FullyConnectedNet([3, 8, 2], torch.relu)
    y = net(torch.randn(4, 5, 3))
    assert y.shape == (4, 5, 2) and y.dtype == torch.float32


def test_bad_input_dim() -> None:
    net = FullyConnectedNet([3, 8, 2], torch.relu)
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        net(torch.randn(4, 5))


@pytest.mark.parametrize("hs", [[3], [3, 0, 2], [3, 2.5, 1]])
def test_bad_sizes(hs: list) -> None:
    with pytest.raises(ValueError, match="hs="):
        FullyConnectedNet(hs, torch.relu)


def test_hidden_and_last_matrix_recompose_the_output(float64: None) -> None:
    for hs in ([5, 7], [5, 8, 7], [5, 8, 6, 7]):
        net = FullyConnectedNet(hs, torch.tanh, variance_out=2.0)
        x = torch.randn(4, 5)
        hidden, matrix = net.hidden_and_last_matrix(x)
        assert hidden.shape == (4, hs[-2]) and matrix.shape == (hs[-2], hs[-1])
        assert (hidden @ matrix - net(x)).abs().max() < 1e-12
    with pytest.raises(ValueError, match="out_act"):
        FullyConnectedNet([3, 4], torch.tanh, out_act=True).hidden_and_last_matrix(torch.randn(2, 3))
