"""Agreement with e3nn 0.6.0 (float64, 1e-10): same flat weights and inputs give the same outputs.

Random irreps and instruction sets are drawn with a seeded generator, in every connection mode and every
irrep/path normalisation, with shared and per-sample weights, variances and path weights.
"""

from __future__ import annotations

import random

import pytest
import torch
from e3nn import o3 as e3nn_o3

from e3lab.o3 import (
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
    Irrep,
    Irreps,
    TensorProduct,
)

MODES = ["uvw", "uvu", "uvv", "uuw", "uuu", "uvuv"]
NORMALIZATIONS = [(i, p) for i in ("component", "norm", "none") for p in ("element", "path", "none")]


def _irreps(rng: random.Random, muls: list[int]) -> str:
    terms = [f"{mul}x{rng.randint(0, 2)}{rng.choice('eo')}" for mul in muls]
    return " + ".join(terms)


def _random_case(seed: int, mode: str) -> tuple[str, str, str, list[tuple]]:
    """Two random inputs and instructions in ``mode``; outputs are created (or reused) to fit each path."""
    rng = random.Random(seed)
    n1, n2 = rng.randint(1, 3), rng.randint(1, 3)
    if mode in ("uuw", "uuu"):
        mul = rng.randint(1, 3)
        muls1, muls2 = [mul] * n1, [mul] * n2
    else:
        muls1 = [rng.randint(1, 3) for _ in range(n1)]
        muls2 = [rng.randint(1, 3) for _ in range(n2)]
    in1, in2 = Irreps(_irreps(rng, muls1)), Irreps(_irreps(rng, muls2))
    out: list[tuple[int, Irrep]] = []
    instructions = []
    for _ in range(rng.randint(1, 5)):
        i1, i2 = rng.randrange(n1), rng.randrange(n2)
        (mul1, ir1), (mul2, ir2) = in1[i1], in2[i2]
        ir_out = rng.choice(list(ir1 * ir2))
        has_weight = mode == "uvw" or rng.random() < 0.7
        mul_out = {
            "uvw": rng.randint(1, 3),
            "uvu": mul1,
            "uvv": mul2,
            "uuw": rng.randint(1, 3) if has_weight else 1,
            "uuu": mul1,
            "uvuv": mul1 * mul2,
        }[mode]
        reuse = [i for i, term in enumerate(out) if term == (mul_out, ir_out)]
        if reuse and rng.random() < 0.5:
            i_out = rng.choice(reuse)
        else:
            i_out = len(out)
            out.append((mul_out, ir_out))
        ins = (i1, i2, i_out, mode, has_weight)
        instructions.append((*ins, rng.choice([0.5, 2.0])) if rng.random() < 0.2 else ins)
    irreps_out = " + ".join(f"{mul}x{ir}" for mul, ir in out)
    return str(in1), str(in2), irreps_out, instructions


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, shared: bool, batch: int = 5) -> float:
    x = torch.randn(batch, ours.irreps_in1.dim)
    y = torch.randn(batch, ours.irreps_in2.dim)
    w = torch.randn(ours.weight_numel) if shared else torch.randn(batch, ours.weight_numel)
    args = (x, y) if ours.weight_numel == 0 else (x, y, w)
    a, b = ours(*args), theirs(*args)
    assert a.shape == b.shape
    return (a - b).abs().max().item() if a.numel() else 0.0


CASES = [(seed, MODES[seed % len(MODES)], NORMALIZATIONS[seed % len(NORMALIZATIONS)]) for seed in range(36)]


@pytest.mark.parametrize(("seed", "mode", "normalization"), CASES)
def test_random_tensor_product_matches_e3nn(float64, seed: int, mode: str, normalization: tuple) -> None:
    in1, in2, out, instructions = _random_case(seed, mode)
    shared = seed % 4 != 0
    kwargs = dict(
        irrep_normalization=normalization[0], path_normalization=normalization[1], shared_weights=shared
    )
    if seed % 3 == 0:
        rng = random.Random(seed + 1000)
        kwargs["in1_var"] = [rng.uniform(0.5, 2) for _ in Irreps(in1)]
        kwargs["out_var"] = [rng.uniform(0.5, 2) for _ in Irreps(out)]
    ours = TensorProduct(in1, in2, out, instructions, **kwargs)
    theirs = e3nn_o3.TensorProduct(in1, in2, out, instructions, **kwargs)
    assert ours.weight_numel == theirs.weight_numel
    for a, b in zip(ours.instructions, theirs.instructions, strict=True):
        assert a[:5] == b[:5] and a.path_shape == b.path_shape
        assert a.path_weight == pytest.approx(b.path_weight, rel=1e-12)
    assert _compare(ours, theirs, shared) < 1e-10


@pytest.mark.parametrize("seed", range(8))
def test_random_fully_connected_matches_e3nn(float64, seed: int) -> None:
    rng = random.Random(seed)
    in1, in2, out = (_irreps(rng, [rng.randint(1, 3) for _ in range(rng.randint(1, 3))]) for _ in range(3))
    irrep_norm, path_norm = NORMALIZATIONS[seed]
    ours = FullyConnectedTensorProduct(
        in1, in2, out, irrep_normalization=irrep_norm, path_normalization=path_norm
    )
    theirs = e3nn_o3.FullyConnectedTensorProduct(
        in1, in2, out, irrep_normalization=irrep_norm, path_normalization=path_norm
    )
    assert ours.weight_numel == theirs.weight_numel
    if ours.weight_numel:
        with torch.no_grad():
            ours.weight.copy_(theirs.weight)  # internal weights: copy e3nn's flat vector
    assert _compare(ours, theirs, shared=True) < 1e-10


@pytest.mark.parametrize("seed", range(4))
def test_random_full_and_elementwise_match_e3nn(float64, seed: int) -> None:
    rng = random.Random(seed)
    in1 = _irreps(rng, [rng.randint(1, 3) for _ in range(rng.randint(1, 3))])
    in2 = _irreps(rng, [rng.randint(1, 3) for _ in range(rng.randint(1, 3))])
    keep = ["0e", "1o", "2e"] if seed % 2 else None
    norm = ["component", "norm"][seed % 2]
    full = FullTensorProduct(in1, in2, filter_ir_out=keep, irrep_normalization=norm)
    full_e3nn = e3nn_o3.FullTensorProduct(in1, in2, filter_ir_out=keep, irrep_normalization=norm)
    assert full.irreps_out == Irreps(str(full_e3nn.irreps_out))
    assert _compare(full, full_e3nn, shared=True) < 1e-10
    in2_same = _irreps(rng, [Irreps(in1).num_irreps])  # same number of irreps, different split
    elementwise = ElementwiseTensorProduct(in1, in2_same, filter_ir_out=keep, irrep_normalization=norm)
    elementwise_e3nn = e3nn_o3.ElementwiseTensorProduct(
        in1, in2_same, filter_ir_out=keep, irrep_normalization=norm
    )
    assert elementwise.irreps_out == Irreps(str(elementwise_e3nn.irreps_out))
    assert _compare(elementwise, elementwise_e3nn, shared=True) < 1e-10


def test_seed_convolution_tensor_product_matches_e3nn(float64) -> None:
    args = ("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e")
    ours = FullyConnectedTensorProduct(*args, shared_weights=False)
    theirs = e3nn_o3.FullyConnectedTensorProduct(*args, shared_weights=False)
    assert repr(ours) == repr(theirs)
    assert _compare(ours, theirs, shared=False, batch=64) < 1e-10
