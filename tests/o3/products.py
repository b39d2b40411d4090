"""Convolution-shaped tensor products and the reference check shared by the native and Triton tests."""

from __future__ import annotations

import torch

from e3lab.o3 import FullyConnectedTensorProduct, Irreps, TensorProduct
from e3lab.o3._tensor_product import tensor_product_reference


def uvu_product(in1: str, in2: str, lmax: int) -> TensorProduct:
    """Channelwise product into every output irrep with l <= lmax, one output term per path."""
    irreps1, irreps2 = Irreps(in1), Irreps(in2)
    out, instructions = [], []
    for i1, (mul, ir1) in enumerate(irreps1):
        for i2, (_, ir2) in enumerate(irreps2):
            for ir in ir1 * ir2:
                if ir.l <= lmax:
                    instructions.append((i1, i2, len(out), "uvu", True))
                    out.append(f"{mul}x{ir}")
    return TensorProduct(in1, in2, " + ".join(out), instructions, shared_weights=False)


def fusable_cases() -> list[tuple[str, TensorProduct]]:
    """``(name, product)``: per-sample weights, weighted uvw/uvu paths, multiplicity-one ``in2`` terms."""
    return [
        (
            "seed",
            FullyConnectedTensorProduct(
                "10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e", shared_weights=False
            ),
        ),
        (
            "mixed",
            FullyConnectedTensorProduct(
                "3x0e + 2x1o + 4x2e", "0e + 1o + 2e + 3o", "2x0e + 3x1o + 2x2e + 1x1e", shared_weights=False
            ),
        ),
        ("uvu", uvu_product("5x0e + 5x1o + 5x2e", "0e + 1o + 2e + 3o", lmax=2)),
        (
            "norm",
            FullyConnectedTensorProduct(
                "4x1o",
                "1o + 2e",
                "3x0e + 2x1e",
                shared_weights=False,
                irrep_normalization="norm",
                path_normalization="path",
            ),
        ),
    ]


def assert_kernel_matches_reference(
    tp: TensorProduct, rows: int, function: type, device: str = "cpu"
) -> None:
    """``tp`` on random float64 inputs runs through autograd function ``function`` and agrees with the
    reference einsums to 1e-12, values and gradients of ``x``, ``y`` and the weights."""
    dims = (tp.irreps_in1.dim, tp.irreps_in2.dim, tp.weight_numel)
    x, y, w = (torch.randn(rows, d, dtype=torch.float64, device=device, requires_grad=True) for d in dims)
    out = tp(x, y, w)
    assert isinstance(out.grad_fn.next_functions[0][0], function._backward_cls)
    ref = tensor_product_reference(tp, x, y, w)
    assert (out - ref).abs().max() < 1e-12
    g = torch.randn_like(out)
    fast = torch.autograd.grad(out, (x, y, w), g)
    slow = torch.autograd.grad(ref, (x, y, w), g)
    for a, b in zip(fast, slow, strict=True):
        assert (a - b).abs().max() < 1e-12
