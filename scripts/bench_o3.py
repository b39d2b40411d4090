"""Benchmark e3lab.o3 against e3nn 0.6.0 on CPU, float32, side by side in one process.

Cases: the seed-000 convolution tensor product (``10x0e + 10x1e`` x ``0e + 1o + 2e`` -> ``20x0e + 10x1e``,
per-edge weights, 50k edges) forward and forward+backward, and spherical harmonics at lmax 2 and 6.
Each timing is the median of ``--repeats`` runs after ``--warmup`` runs, on random (never zero) inputs.

    python scripts/bench_o3.py [--edges 50000] [--repeats 7] [--warmup 2] [--json results.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import e3nn
import torch
from e3nn import o3 as e3nn_o3

from e3lab import o3


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _median_ms(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _pair(make: Callable[[object], Callable[[], object]], warmup: int, repeats: int) -> tuple[float, float]:
    """Time the e3lab and e3nn versions alternately (so load changes hit both), return their medians."""
    ours, theirs = make(o3), make(e3nn_o3)
    a, b = [], []
    for _ in range(3):
        a.append(_median_ms(ours, warmup, max(1, repeats // 3)))
        b.append(_median_ms(theirs, warmup, max(1, repeats // 3)))
    return min(a), min(b)


def _tp_case(edges: int, backward: bool) -> Callable[[object], Callable[[], object]]:
    gen = torch.Generator().manual_seed(0)
    irreps = ("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e")
    x = torch.randn(edges, 40, generator=gen).requires_grad_(backward)
    y = torch.randn(edges, 9, generator=gen).requires_grad_(backward)
    w = torch.randn(edges, 400, generator=gen).requires_grad_(backward)

    def make(lib: object) -> Callable[[], object]:
        tp = lib.FullyConnectedTensorProduct(*irreps, shared_weights=False)
        if not backward:
            return lambda: tp(x, y, w)

        def step() -> None:
            out = tp(x, y, w)
            out.backward(torch.ones_like(out))

        return step

    return make


def _sh_case(edges: int, lmax: int) -> Callable[[object], Callable[[], object]]:
    vectors = torch.randn(edges, 3, generator=torch.Generator().manual_seed(1)) + 1e-3

    def make(lib: object) -> Callable[[], object]:
        irreps = lib.Irreps.spherical_harmonics(lmax)
        return lambda: lib.spherical_harmonics(irreps, vectors, normalize=True, normalization="component")

    return make


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edges", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", type=str, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float32)

    cases: list[tuple[str, Callable]] = [
        (f"TP seed-000 forward ({args.edges} edges)", _tp_case(args.edges, backward=False)),
        (f"TP seed-000 forward+backward ({args.edges} edges)", _tp_case(args.edges, backward=True)),
    ]
    if hasattr(o3, "spherical_harmonics"):
        cases += [(f"SH lmax={lmax} ({args.edges} vectors)", _sh_case(args.edges, lmax)) for lmax in (2, 6)]
    else:
        print("e3lab.o3.spherical_harmonics is not available yet: SH cases skipped")

    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "e3nn": e3nn.__version__,
        "dtype": "float32",
    }
    print(", ".join(f"{k}: {v}" for k, v in meta.items()))
    rows = []
    header = f"{'case':<44} {'e3lab ms':>10} {'e3nn ms':>10} {'speed-up':>9}"
    print(header + "\n" + "-" * len(header))
    for name, make in cases:
        ours, theirs = _pair(make, args.warmup, args.repeats)
        rows.append({"case": name, "e3lab_ms": ours, "e3nn_ms": theirs, "speedup": theirs / ours})
        print(f"{name:<44} {ours:>10.2f} {theirs:>10.2f} {theirs / ours:>8.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
