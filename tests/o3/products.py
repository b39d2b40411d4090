"""Tensor products of the convolution shape shared by the native and Triton kernel tests."""

from __future__ import annotations

from e3lab.o3 import FullyConnectedTensorProduct, Irreps, TensorProduct


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
