"""The convolution guide, walked through with e3lab.

Implements f'_i = 1/sqrt(z) sum_{j in N(i)} f_j (x)(h(|x_ij|)) Y(x_ij / |x_ij|) on a random graph and
prints, step by step: the edge count and average degree z; the second moments of the input, the
spherical harmonics, the radial embedding, the MLP weights (mean ~0, std ~1), the summand and the
output (all ~1); the equivariance error under a rotation and an inversion (float64); and the
per-stage forward time for 100, 1,000 and 10,000 nodes (positions scaled by (N / 100)^(1/3) so
that the average degree stays comparable), from the profiler ranges named in ``e3lab.nn.STAGES``.
It writes ``radial_basis.png`` and ``tensor_product.png`` into ``--out``.

    python scripts/conv_guide.py --out experiments/conv_guide
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from e3lab import o3
from e3lab.graph import radius_graph
from e3lab.math import soft_one_hot_linspace
from e3lab.nn import STAGES, Convolution

IRREPS_INPUT = "10x0e + 10x1e"
IRREPS_OUTPUT = "20x0e + 10x1e"
MAX_RADIUS = 1.8
NUM_BASIS = 10
SIZES = (100, 1_000, 10_000)


def make_graph(
    num_nodes: int, seed: int = 0, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random positions ``[N, 3]`` (N(0, 1) scaled by (N / 100)^(1/3)) and their radius graph ``[2, E]``."""
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(num_nodes, 3, generator=gen, dtype=dtype) * (num_nodes / 100) ** (1 / 3)
    return pos, radius_graph(pos, MAX_RADIUS, max_num_neighbors=num_nodes - 1)


def make_convolution(num_neighbors: float) -> Convolution:
    """The guide's convolution: lmax 2, 10 smooth_finite functions (cutoff), MLP [10, 16, weights], relu."""
    return Convolution(
        IRREPS_INPUT,
        IRREPS_OUTPUT,
        num_neighbors=num_neighbors,
        max_radius=MAX_RADIUS,
        lmax=2,
        radial_basis="smooth_finite",
        radial_number=NUM_BASIS,
        radial_cutoff=True,
        radial_layers=1,
        radial_hidden=16,
        radial_act=torch.relu,
    )


def graph_summary(num_nodes: int = 100, seed: int = 0) -> dict[str, float]:
    """Edge count and average degree ``z = E / N`` of the guide's graph."""
    _, edge_index = make_graph(num_nodes, seed)
    return {"num_nodes": num_nodes, "num_edges": edge_index.shape[1], "z": edge_index.shape[1] / num_nodes}


def second_moments(num_nodes: int = 100, seed: int = 0) -> dict[str, float]:
    """Second moments of each intermediate of one convolution, with ``z`` measured on the graph.

    Returns ``input``, ``sh``, ``embedding``, ``summand``, ``output`` (second moments, each ~1) and
    ``weight_mean``, ``weight_std`` (~0 and ~1).
    """
    torch.manual_seed(seed)
    pos, edge_index = make_graph(num_nodes, seed)
    conv = make_convolution(edge_index.shape[1] / num_nodes)
    x = o3.Irreps(IRREPS_INPUT).randn(num_nodes, -1)
    with torch.no_grad():
        stages = conv.stages(x, pos, edge_index)
    moments = {
        "input": x.pow(2).mean().item(),
        "sh": stages.sh.pow(2).mean().item(),
        "embedding": stages.embedding.pow(2).mean().item(),
        "weight_mean": stages.weight.mean().item(),
        "weight_std": stages.weight.std().item(),
        "summand": stages.summand.pow(2).mean().item(),
        "output": stages.output.pow(2).mean().item(),
    }
    return moments


def equivariance_errors(num_nodes: int = 100, seed: int = 0) -> dict[str, float]:
    """Max |conv(D_in x, R pos) - D_out conv(x, pos)| in float64 for a rotation and an inversion."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        pos, edge_index = make_graph(num_nodes, seed, torch.float64)
        conv = make_convolution(edge_index.shape[1] / num_nodes)
        irreps_in, irreps_out = o3.Irreps(IRREPS_INPUT), o3.Irreps(IRREPS_OUTPUT)
        x = irreps_in.randn(num_nodes, -1)
        with torch.no_grad():
            out = conv(x, pos, edge_index)
            errors = {}
            for name, R in (("rotation", o3.rand_matrix()), ("inversion", -torch.eye(3))):
                D_in, D_out = irreps_in.D_from_matrix(R), irreps_out.D_from_matrix(R)
                rotated = conv(x @ D_in.T, pos @ R.T, edge_index)
                errors[name] = (rotated - out @ D_out.T).abs().max().item()
        return errors
    finally:
        torch.set_default_dtype(previous)


def _timed_forward(conv: Convolution | None, x: torch.Tensor, pos: torch.Tensor) -> tuple[Convolution, int]:
    """Radius graph (in its profiler range) and one convolution; builds the convolution if None."""
    num_nodes = len(pos)
    with record_function("radius_graph"):
        edge_index = radius_graph(pos, MAX_RADIUS, max_num_neighbors=num_nodes - 1)
    if conv is None:
        conv = make_convolution(edge_index.shape[1] / num_nodes)
    conv(x, pos, edge_index)
    return conv, edge_index.shape[1]


def stage_timings(num_nodes: int, seed: int = 0, warmup: int = 1) -> dict[str, float]:
    """Forward time (ms, CPU) of each stage for ``num_nodes`` nodes, from the profiler's stage ranges.

    Also returns ``edges`` and ``wall`` (ms, the profiled forward including the radius graph).
    """
    torch.manual_seed(seed)
    pos, _ = make_graph(num_nodes, seed)
    x = o3.Irreps(IRREPS_INPUT).randn(num_nodes, -1)
    with torch.no_grad():
        conv, _ = _timed_forward(None, x, pos)
        for _ in range(warmup):
            _timed_forward(conv, x, pos)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            _, num_edges = _timed_forward(conv, x, pos)
            wall = (time.perf_counter() - start) * 1e3
    times = {stage: 0.0 for stage in STAGES if stage != "gate"}  # the guide's convolution has no gate
    for event in prof.events():
        if event.name in times:
            times[event.name] += event.cpu_time_total / 1e3
    return {**times, "edges": float(num_edges), "wall": wall}


def plot_radial_basis(path: Path) -> None:
    """The guide's 10 smooth_finite functions on [0, 2], strictly zero beyond max_radius."""
    r = torch.linspace(0.0, 2.0, 1000)
    y = soft_one_hot_linspace(r, 0.0, MAX_RADIUS, NUM_BASIS, basis="smooth_finite", cutoff=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(r, y)
    ax.axvline(MAX_RADIUS, color="k", linestyle="-.", linewidth=0.8)
    ax.set_xlabel("|x_ij|")
    ax.set_title(f"smooth_finite radial basis ({NUM_BASIS} functions, cutoff at {MAX_RADIUS})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_tensor_product(path: Path) -> None:
    """``tp.visualize()`` of the guide's tensor product (the 1o harmonics find no path: parity)."""
    conv = make_convolution(1.0)
    fig, _ = conv.tp.visualize()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG figures")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=list(SIZES), help="node counts to time (none: skip timing)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    summary = graph_summary()
    z = summary["z"]
    print(f"graph: {summary['num_nodes']} nodes, {summary['num_edges']} edges, average degree z = {z:.2f}")
    print("second moments (expected ~1; weights: mean ~0, std ~1):")
    for name, value in second_moments().items():
        print(f"  {name:12s} {value:+.4f}")
    errors = equivariance_errors()
    print("equivariance error (float64, max abs):")
    for name, value in errors.items():
        print(f"  {name:12s} {value:.2e}  {'ok' if value < 1e-10 else 'FAILED'}")

    print("forward time per stage (ms, CPU, profiler ranges; with the native CPU kernel the gather and the")
    print("scatter run inside tensor_product, so scatter reads 0):")
    columns = [s for s in STAGES if s != "gate"]
    print(f"  {'nodes':>7s} {'edges':>9s} " + " ".join(f"{c[:12]:>12s}" for c in columns) + f" {'wall':>9s}")
    for num_nodes in args.sizes:
        t = stage_timings(num_nodes)
        cells = " ".join(f"{t[c]:12.2f}" for c in columns)
        print(f"  {num_nodes:7d} {int(t['edges']):9d} {cells} {t['wall']:9.2f}")

    plot_radial_basis(args.out / "radial_basis.png")
    plot_tensor_product(args.out / "tensor_product.png")
    print(f"figures: {args.out / 'radial_basis.png'}, {args.out / 'tensor_product.png'}")


if __name__ == "__main__":
    main()
