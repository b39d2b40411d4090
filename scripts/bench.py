"""Side-by-side benchmark: e3lab against e3nn (eager, and its TP under torch.compile) and cuEquivariance.

"e3lab-compiled" is e3lab with ``compile_kernel=True`` (its TP kernel under ``torch.compile(dynamic=True)``),
the fair opponent of "e3nn-compiled"; its row carries its own ratios.

All implementations of a case run in one process, interleaved round by round (so load changes on a shared
machine hit every one), on the same random (never zero) float32 inputs; each number is the median over the
rounds of the best of ``--inner`` calls, after ``--warmup`` calls (which also trigger compilation).

Cases (CPU sizes; ``--device cuda`` uses the issue's GPU sizes, ``--scale`` multiplies either):
  tp_seed   FCTP 10x0e+10x1e x 0e+1o+2e -> 20x0e+10x1e, per-edge weights      50k edges (500k on GPU)
  tp_mace   FCTP 32x0e+32x1o+32x2e x 0e+1o+2e -> same, shared weights          20k edges (200k)
  tp_uvu    uvu 64x0e+64x1o+64x2e x 0e+1o+2e+3o -> all l <= 2, per-edge weights 20k edges (200k)
  conv_*    the seed convolution layer: radius graph, SH, radial embedding, MLP, TP, scatter (1k, 10k nodes;
            100k on GPU), timed from positions to node outputs
  conv_*_graph  the issue's GPU layer on a random graph of degree 32, timed from positions (edge SH, radial
            embedding, MLP 10-64-weights, TP, scatter): seed FCTP (2k nodes; 50k = 1.6M edges on GPU) and
            channelwise 32x(0e+1o+2e) x SH lmax 3 (1k nodes; 20k = 640k edges); cueq = its TP in the pipeline
  sh_l2/6   spherical harmonics of 50k vectors (500k)
  force_*   interatomic potentials (scripts/bench_forces.py): "forward" is an MD step (energy and forces),
            "train" the force-training step (forces with create_graph, a loss on energy and forces, its
            gradient); seed convolutions at 1k and 10k nodes, NequIP-style channelwise layers at 1k and 10k
Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` above the inputs; on CPU the allocator events of
``torch.profiler(profile_memory=True)`` during one forward+backward, summed in time order (peak of live bytes
allocated inside the call, inputs excluded).

    python scripts/bench.py [--device cpu|cuda] [--scale 1.0] [--cases tp_seed,conv_1k] [--no-compile]
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

import e3lab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_forces import build_force_case
from bench_o3 import OURS, PEERS, build_case

SIZES = {  # case -> (CPU size, GPU size): edges, nodes or vectors
    "tp_seed": (50_000, 500_000),
    "tp_mace": (20_000, 200_000),
    "tp_mace_edge": (20_000, 200_000),
    "tp_uvu": (20_000, 200_000),
    "conv_1k": (1_000, 100_000),
    "conv_10k": (10_000, 300_000),
    "conv_seed_graph": (2_000, 50_000),
    "conv_uvu_graph": (1_000, 20_000),
    "sh_l2": (50_000, 500_000),
    "sh_l6": (50_000, 500_000),
    "force_seed_1k": (1_000, 10_000),
    "force_seed_10k": (10_000, 50_000),
    "force_uvu_1k": (1_000, 10_000),
    "force_uvu_10k": (10_000, 50_000),
}
GOALS = {
    "tp_seed": None,
    "tp_mace": (10, None),
    "tp_mace_edge": (10, None),
    "tp_uvu": (5, 2),
    "conv_1k": (5, 2),
    "conv_10k": (5, 2),
    "conv_seed_graph": (3, None),
    "conv_uvu_graph": (3, None),
    "force_seed_1k": (5, 2),
    "force_seed_10k": (5, 2),
    "force_uvu_1k": (5, 2),
    "force_uvu_10k": (5, 2),
}
RATIO_COLUMNS = [f"x vs {peer}" for peer in PEERS]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_ms(fn: Callable[[], object], device: torch.device, inner: int) -> float:
    best = math.inf
    for _ in range(inner):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def _peak_mb(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        fn()
    events = sorted(
        (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def _run_case(
    name: str, size: int, device: torch.device, impl_names: list[str], args: argparse.Namespace
) -> list[dict]:
    """Build every implementation of one case and time it, interleaved; one row per implementation."""
    impls: dict[str, tuple[Callable, Callable]] = {}
    items = size
    for impl in impl_names:
        try:
            builder = build_force_case if name.startswith("force_") else build_case
            built = builder(impl, name, size, device)
            if not isinstance(built, str):
                for _ in range(args.warmup):  # also compiles (no-grad forward and train: two graphs)
                    with torch.no_grad():
                        built[0]()
                    built[1]()
        except Exception as error:  # a peer that fails (e.g. no C++ compiler for inductor) is reported
            built = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if isinstance(built, str):
            print(f"  {name}: {impl} skipped ({built})")
            continue
        impls[impl] = built[:2]
        items = built[2] if impl == "e3lab" else items
    fwd: dict[str, list[float]] = {k: [] for k in impls}
    train: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(args.repeats):
        for impl, (forward, step) in impls.items():
            with torch.no_grad():
                fwd[impl].append(_median_ms(forward, device, args.inner))
            train[impl].append(_median_ms(step, device, args.inner))
    rows = []
    for impl, (_, step) in impls.items():
        f, t = statistics.median(fwd[impl]), statistics.median(train[impl])
        rows.append(
            {
                "case": name,
                "impl": impl,
                "size": size,
                "items": items,
                "forward_ms": f,
                "train_ms": t,
                "m_items_per_s": items / t / 1e3,
                "peak_mb": _peak_mb(step, device),
            }
        )
    for row in rows:
        for peer in PEERS:
            other = next((r for r in rows if r["impl"] == peer), None)
            ok = row["impl"] in OURS and other is not None
            row[f"x vs {peer}"] = other["train_ms"] / row["train_ms"] if ok else None
    return rows


def keep_freed_memory() -> bool:
    """Make glibc serve all allocations from its heap and keep freed memory (mallopt); ``False`` if no glibc.

    By default glibc maps each allocation above 32 MB fresh from the kernel and unmaps it on free, so every
    large tensor (per-edge weights, their gradients) pays page faults on first touch again: about 0.5 ms per
    MB here, more than the arithmetic. Process-wide; memory freed is kept (RSS stays at the peak).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    trim, mmap_threshold, big = -1, -3, 2**31 - 1  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
    return bool(libc.mallopt(mmap_threshold, big)) and bool(libc.mallopt(trim, big))


def _machine(device: torch.device, threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": str(device),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "e3lab": getattr(e3lab, "__version__", "dev"),
        "dtype": "float32",
    }
    try:
        import e3nn

        meta["e3nn"] = e3nn.__version__
    except ImportError:
        meta["e3nn"] = None
    if device.type == "cuda":
        meta["gpu"] = torch.cuda.get_device_name(device)
    return meta


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    """The result rows as a markdown table (one row per case and implementation, ratios on e3lab's rows)."""
    columns = ["case", "impl", "size", "items", "forward_ms", "train_ms", "m_items_per_s", "peak_mb"]
    columns += RATIO_COLUMNS
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case's size")
    parser.add_argument(
        "--cases", default=",".join(SIZES), help="comma-separated subset of " + ",".join(SIZES)
    )
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (median over rounds)")
    parser.add_argument("--inner", type=int, default=2, help="calls per round (best of)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile rows (e3nn-, e3lab-compiled)"
    )
    parser.add_argument(
        "--impls",
        default=None,
        help="comma-separated subset of " + ",".join((*OURS, *PEERS)) + " (default: all; cueq on CUDA only)",
    )
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="glibc mallopt: no mmap/munmap per large tensor, for every implementation",
    )
    parser.add_argument("--out-dir", default="experiments/benchmarks")
    parser.add_argument("--tag", default=None, help="file name stem (default: bench_<device>_<date>)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch.cuda.is_available() is False")
    torch.set_default_dtype(torch.float32)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in SIZES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(SIZES)}")
    # cuEquivariance on a CPU is its naive PyTorch fallback: a row only when --impls asks for it
    wanted = [p for p in (*OURS, *PEERS) if p != "cueq" or device.type == "cuda"]
    if args.impls is not None:
        wanted = [p.strip() for p in args.impls.split(",") if p.strip()]
        if "e3lab" not in wanted or not set(wanted) <= {*OURS, *PEERS}:
            parser.error(f"--impls {args.impls!r}: choose from {[*OURS, *PEERS]}, e3lab included")
    impl_names = [
        p for p in (*OURS, *PEERS) if p in wanted and not (args.no_compile and p.endswith("-compiled"))
    ]
    meta = _machine(device, torch.get_num_threads())
    meta["malloc"] = (
        "keep freed memory (mallopt)" if args.keep_freed_memory and keep_freed_memory() else "default"
    )
    print(", ".join(f"{k}: {v}" for k, v in meta.items() if k != "affinity"))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.tag or f"bench_{device.type}_{meta['date'][:10]}"
    command = "python scripts/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows: list[dict] = []
    for name in names:
        size = max(1, int(SIZES[name][device.type == "cuda"] * args.scale))
        print(f"case {name} ({size})", flush=True)
        case_rows = _run_case(name, size, device, impl_names, args)
        print("\n".join(markdown_table(case_rows).splitlines()[2:]), flush=True)
        rows += case_rows
        result = _write(out / stem, meta, command, rows)  # after every case: a killed run keeps its cases
    print(markdown_table(rows))
    return result


def _write(stem: Path, meta: dict, command: str, rows: list[dict]) -> dict:
    """``<stem>.json`` (meta, command, goals, rows) and ``<stem>.md`` (meta list and table); the result."""
    result = {"meta": meta, "command": command, "goals": GOALS, "results": rows}
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    header = "\n".join(f"- {k}: {v}" for k, v in meta.items()) + f"\n- command: `{command}`\n\n"
    stem.with_suffix(".md").write_text(header + markdown_table(rows) + "\n")
    return result


if __name__ == "__main__":
    main()
