"""Time e3lab.graph's native paths against torch_scatter / torch_cluster.

scatter: ``src [edges, channels]`` summed (and mean/max) into ``nodes`` slots, forward and
forward + backward. radius_graph: uniform points in a box sized for a mean degree of ~24, at
1k, 10k and 100k points, with the peak resident memory growth of one call on CPU (Linux).

    python scripts/bench_graph.py                # CPU, the sizes of the design brief
    python scripts/bench_graph.py --device cuda  # on a GPU
    python scripts/bench_graph.py --quick        # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from e3lab.graph import radius_graph, scatter


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best wall time of ``fn`` over ``repeats`` calls in ms (after a warm-up call), with device syncs.

    The minimum, not the median: on a shared machine other jobs only ever add time.
    """
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return min(times)


_PEAK_CHILD = """
import sys
from pathlib import Path
import torch
from e3lab.graph import radius_graph
n, backend = int(sys.argv[1]), sys.argv[2]
pos = torch.rand(n, 3) * (n * 4.19 / 24) ** (1 / 3)
status = Path("/proc/self/status")
def field(name):
    return int(next(s for s in status.read_text().splitlines() if s.startswith(name)).split()[1]) / 1024
before = field("VmRSS:")
Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
radius_graph(pos, 1.0, max_num_neighbors=32, backend=backend)
print(field("VmHWM:") - before)
"""


def peak_rss_growth_mb(n: int, backend: str) -> float | None:
    """Peak resident memory of one CPU ``radius_graph`` call above the level before it, in MB.

    Measured in a fresh process (Linux only), so memory freed by earlier benchmarks cannot hide it.
    """
    if not Path("/proc/self/clear_refs").exists():
        return None
    args = [sys.executable, "-c", _PEAK_CHILD, str(n), backend]
    return float(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def bench_scatter(device: torch.device, edges: int, channels: int, nodes: int, repeats: int) -> None:
    src = torch.randn(edges, channels, device=device)
    index = torch.randint(0, nodes, (edges,), device=device)
    backends = ["native"] + (["torch_scatter"] if importlib.util.find_spec("torch_scatter") else [])
    print(f"\nscatter src [{edges}, {channels}] float32 -> {nodes} nodes on {device} (best of repeats, ms)")
    print("| reduce | backend | forward | forward + backward |")
    print("|---|---|---|---|")
    for reduce in ("sum", "mean", "max"):
        for backend in backends:

            def forward(backend: str = backend, reduce: str = reduce) -> torch.Tensor:
                return scatter(src, index, dim_size=nodes, reduce=reduce, backend=backend)

            def both(backend: str = backend, reduce: str = reduce) -> None:
                leaf = src.detach().requires_grad_()
                scatter(leaf, index, dim_size=nodes, reduce=reduce, backend=backend).sum().backward()

            fwd, fwd_bwd = timed(forward, device, repeats), timed(both, device, repeats)
            print(f"| {reduce} | {backend} | {fwd:.1f} | {fwd_bwd:.1f} |")


def bench_radius(device: torch.device, sizes: list[int], repeats: int) -> None:
    backends = ["native"] + (["torch_cluster"] if importlib.util.find_spec("torch_cluster") else [])
    print(f"\nradius_graph, uniform box, r = 1, mean degree ~24, on {device} (best of repeats, ms)")
    print("| points | edges | backend | time | peak RSS growth (MB) |")
    print("|---|---|---|---|---|")
    for n in sizes:
        pos = torch.rand(n, 3, device=device) * (n * 4.19 / 24) ** (1 / 3)
        for backend in backends:

            def run(backend: str = backend, pos: torch.Tensor = pos) -> torch.Tensor:
                return radius_graph(pos, 1.0, max_num_neighbors=32, backend=backend)

            num_edges = run().shape[1]
            ms = timed(run, device, repeats if n < 100_000 else max(1, repeats // 2))
            memory = peak_rss_growth_mb(n, backend) if device.type == "cpu" else None
            shown = "n/a" if memory is None else f"{memory:.0f}"
            print(f"| {n} | {num_edges} | {backend} | {ms:.1f} | {shown} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.quick:
        bench_scatter(device, 20_000, 16, 1_000, 2)
        bench_radius(device, [1_000, 5_000], 2)
    else:
        bench_scatter(device, 1_000_000, 64, 30_000, args.repeats)
        bench_radius(device, [1_000, 10_000, 100_000], args.repeats)


if __name__ == "__main__":
    main()
