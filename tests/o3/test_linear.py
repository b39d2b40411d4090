"""Linear: agreement with e3nn 0.6.0 (random irreps, biases, f_in/f_out), equivariance, biases, errors."""

from __future__ import annotations

import random

import pytest
import torch
from e3nn import o3 as e3nn_o3

from e3lab.o3 import Irreps, Linear, rand_matrix


def _irreps(rng: random.Random, n: int) -> str:
    return " + ".join(f"{rng.randint(0, 3)}x{rng.randint(0, 2)}{rng.choice('eo')}" for _ in range(n))


def _random_kwargs(seed: int) -> tuple[str, str, dict]:
    rng = random.Random(seed)
    irreps_in = _irreps(rng, rng.randint(1, 4)) + " + 2x0e"
    irreps_out = _irreps(rng, rng.randint(1, 4)) + " + 1x0e"
    kwargs: dict = {"biases": seed % 2 == 1, "path_normalization": ["element", "path"][seed % 3 == 0]}
    if seed % 4 == 2:
        kwargs.update(f_in=2, f_out=3)
    return irreps_in, irreps_out, kwargs


@pytest.mark.parametrize("seed", range(16))
def test_random_linear_matches_e3nn(float64, seed: int) -> None:
    irreps_in, irreps_out, kwargs = _random_kwargs(seed)
    ours, theirs = Linear(irreps_in, irreps_out, **kwargs), e3nn_o3.Linear(irreps_in, irreps_out, **kwargs)
    assert (ours.weight_numel, ours.bias_numel) == (theirs.weight_numel, theirs.bias_numel)
    assert ours.weight.shape == theirs.weight.shape and ours.bias.shape == theirs.bias.shape
    with torch.no_grad():
        ours.weight.copy_(theirs.weight)
        if ours.bias_numel:
            assert (ours.bias == 0).all()  # biases start at zero
            theirs.bias.normal_()
            ours.bias.copy_(theirs.bias)
    x = torch.randn(5, *([kwargs["f_in"]] if "f_in" in kwargs else []), ours.irreps_in.dim)
    assert (ours(x) - theirs(x)).abs().max() < 1e-10


def test_custom_instructions_and_per_sample_weights_match_e3nn(float64) -> None:
    irreps_in, irreps_out = "3x0e + 2x1o + 4x0e", "2x0e + 3x1o"
    instructions = [(0, 0), (1, 1), (2, 0), (0, 0)]
    ours = Linear(irreps_in, irreps_out, instructions=instructions, shared_weights=False)
    theirs = e3nn_o3.Linear(irreps_in, irreps_out, instructions=instructions, shared_weights=False)
    assert not ours.internal_weights and ours.weight_numel == theirs.weight_numel
    x, w = torch.randn(6, ours.irreps_in.dim), torch.randn(6, ours.weight_numel)
    assert (ours(x, w) - theirs(x, w)).abs().max() < 1e-10


@pytest.mark.parametrize("biases", [False, True])
def test_equivariance_rotation_and_inversion(float64, biases: bool) -> None:
    lin = Linear("3x0e + 2x1o + 2x2e + 1x1e", "2x0e + 3x1o + 1x2e + 2x1e", biases=biases)
    if biases:
        with torch.no_grad():
            lin.bias.normal_()
    x = torch.randn(7, lin.irreps_in.dim)
    for sign in (1.0, -1.0):
        R = sign * rand_matrix()
        D_in, D_out = lin.irreps_in.D_from_matrix(R), lin.irreps_out.D_from_matrix(R)
        assert (lin(x @ D_in.T) - lin(x) @ D_out.T).abs().max() < 1e-10


def test_bias_only_on_scalars_and_weight_views() -> None:
    lin = Linear("2x0e + 1x1o", "3x0e + 2x1o + 1x0o", biases=True)
    assert lin.bias_numel == 3 and [ins.i_in for ins in lin.instructions][-1] == -1
    views = list(lin.weight_views(yield_instruction=True))
    assert [v.shape for _, _, v in views] == [(2, 3), (1, 2)]
    out = lin(torch.zeros(4, lin.irreps_in.dim))
    assert (out == 0).all()  # zero input, zero-initialised bias
    with torch.no_grad():
        lin.bias.fill_(1.0)
    assert lin(torch.zeros(1, lin.irreps_in.dim))[0].tolist() == [1.0] * 3 + [0.0] * 7


def test_output_second_moment_is_one() -> None:
    lin = Linear("32x0e + 16x1o + 8x0e", "16x0e + 16x1o")
    x = torch.randn(4000, lin.irreps_in.dim)
    assert abs(lin(x).pow(2).mean().item() - 1) < 0.25


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="Linear only connects equal irreps"):
        Linear("1x0e", "1x1o", instructions=[(0, 0)])
    with pytest.raises(ValueError, match="out of range"):
        Linear("1x0e", "1x0e", instructions=[(0, 1)])
    with pytest.raises(ValueError, match="biases are only allowed on 0e outputs"):
        Linear("1x1o", "1x1o", biases=[True])
    with pytest.raises(ValueError, match="path_normalization='norm'"):
        Linear("1x0e", "1x0e", path_normalization="norm")
    lin = Linear("2x0e + 1x1o", "3x0e")
    with pytest.raises(ValueError, match=r"irreps_in = 2x0e\+1x1o needs \[\.\.\., 5\]"):
        lin(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"\[6\] \(weight_numel\)"):
        lin(torch.randn(3, 5), torch.randn(7))
    with pytest.raises(TypeError, match="use one dtype"):
        lin(torch.randn(3, 5, dtype=torch.float64))


def test_float32_and_batch_shapes() -> None:
    lin = Linear(Irreps("4x0e + 2x1o"), "3x0e + 1x1o", biases=True)
    out = lin(torch.randn(2, 3, lin.irreps_in.dim))
    assert out.shape == (2, 3, lin.irreps_out.dim) and out.dtype == torch.float32
    assert repr(lin) == "Linear(4x0e+2x1o -> 3x0e+1x1o | 14 weights)"
