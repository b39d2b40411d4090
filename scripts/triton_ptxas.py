"""Compile e3lab's Triton tensor-product kernels for a GPU architecture on a machine without a GPU, and print
what ``ptxas`` reports per kernel and tile shape: compile time, registers per thread, spills.

Triton compiles to PTX and then to machine code with its own ``ptxas`` without touching a device, so a
register-spilling tile shape or a kernel that does not compile shows up here before any GPU time is spent.
Kernels: ``forward``, ``backward`` and the two second-order kernels (the backward's gradient with all three
cotangents: ``second_order_g`` for the output gradient's, ``second_order_xyw`` for the inputs';
``--no-second-order`` skips them).

    python scripts/triton_ptxas.py [--cases tp_seed,tp_uvu,conv_uvu] [--arch 90]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e3lab import o3
from e3lab.o3._tensor_product._triton_second import second_order_source
from e3lab.o3._tensor_product._triton_tp import (
    TritonTensorProduct,
    _configs,
    _load_module,
    second_order_configs,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_o3 import CHANNELWISE_IRREPS, SEED_IRREPS, UVU_IRREPS, _uvu_instructions


def _products() -> dict[str, o3.TensorProduct]:
    sh3 = o3.Irreps.spherical_harmonics(3)
    uvu_out, uvu_ins = _uvu_instructions(o3)
    conv_out, conv_ins = _uvu_instructions(o3, CHANNELWISE_IRREPS[0], sh3)
    return {
        "tp_seed": o3.FullyConnectedTensorProduct(*SEED_IRREPS, shared_weights=False),
        "tp_uvu": o3.TensorProduct(*UVU_IRREPS, uvu_out, uvu_ins, shared_weights=False),
        "conv_uvu": o3.TensorProduct(CHANNELWISE_IRREPS[0], sh3, conv_out, conv_ins, shared_weights=False),
    }


def _signature(arg_names: list[str]) -> dict[str, str]:
    """Triton types of the kernels' arguments: float32 tensors, int64 indices, int32 counts, constexprs."""
    types = {}
    for name in arg_names:
        if name in ("src_ptr", "dst_ptr"):
            types[name] = "*i64"
        elif name.endswith("_ptr"):
            types[name] = "*fp32"
        elif name in ("rows", "rows_bucket"):
            types[name] = "i32"
        else:
            types[name] = "constexpr"
    return types


def _ptxas_report(ptx: str, arch: int) -> str:
    import triton

    ptxas = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kernel.ptx"
        path.write_text(ptx)
        result = subprocess.run(
            [str(ptxas), "-v", f"-arch=sm_{arch}a", str(path), "-o", os.devnull],
            capture_output=True,
            text=True,
        )
    lines = [line.split("info    : ")[-1].strip() for line in result.stderr.splitlines()]
    return "; ".join(line for line in lines if "registers" in line or "spill" in line) or result.stderr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default="tp_seed,tp_uvu,conv_uvu")
    parser.add_argument("--arch", type=int, default=90, help="compute capability x10 (90: H100/H200)")
    parser.add_argument("--scatter", action="store_true", help="the convolve variant (gather + scatter)")
    parser.add_argument("--no-second-order", action="store_true", help="skip the second-order kernel")
    args = parser.parse_args(argv)
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    products = _products()
    for case in args.cases.split(","):
        kernels: TritonTensorProduct = products[case]._triton
        module = _load_module(kernels.source)
        named = {"forward": module.forward, "backward": module.backward}
        if not args.no_second_order:
            for part in ("g", "xyw"):
                source = second_order_source(kernels.spec, (True, True, True), part)
                named[f"second_order_{part}"] = _load_module(source).second_order
        for name, kernel in named.items():
            tiles = second_order_configs if name.startswith("second") else _configs
            for block_e, block_c, warps in tiles(kernels.spec):
                flags = {"GATHER": args.scatter, "SCATTER": args.scatter, "NEED_X": True, "NEED_Y": True}
                flags |= {"NEED_W": True, "NEED_G": True, "BLOCK_E": block_e, "BC": block_c}
                constants = {k: v for k, v in flags.items() if k in kernel.arg_names}
                start = time.perf_counter()
                compiled = triton.compile(
                    ASTSource(kernel, _signature(kernel.arg_names), constants),
                    target=GPUTarget("cuda", args.arch, 32),
                    options={"num_warps": warps},
                )
                seconds = time.perf_counter() - start
                report = _ptxas_report(compiled.asm["ptx"], args.arch)
                print(
                    f"{case} {name} BLOCK_E={block_e} BC={block_c} warps={warps}: {seconds:.1f} s, {report}"
                )


if __name__ == "__main__":
    main()
