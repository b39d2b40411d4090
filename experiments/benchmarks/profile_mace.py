"""Profile one train step of the MACE-sized FCTP (shared or per-edge weights), one thread, CPU.

``python experiments/benchmarks/profile_mace.py [--edge] [--size 5000]``: prints the top operators.
"""

from __future__ import annotations

import argparse
import time

import torch

from e3lab import o3

IRREPS = ("32x0e+32x1o+32x2e", "0e+1o+2e", "32x0e+32x1o+32x2e")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edge", action="store_true", help="per-edge weights")
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tp = o3.FullyConnectedTensorProduct(*IRREPS, shared_weights=not args.edge)
    x = torch.randn(args.size, tp.irreps_in1.dim, requires_grad=True)
    y = torch.randn(args.size, tp.irreps_in2.dim, requires_grad=True)
    w = torch.randn(args.size, tp.weight_numel, requires_grad=True) if args.edge else None
    inputs = [x, y, w] if args.edge else [x, y, *tp.parameters()]

    def step() -> None:
        out = tp(x, y, w) if args.edge else tp(x, y)
        torch.autograd.grad(out, inputs, torch.ones_like(out))

    for _ in range(2):
        step()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(f"train step min {min(times) * 1e3:.1f} ms")
    with torch.profiler.profile() as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
