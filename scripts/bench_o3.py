"""The benchmark cases of ``scripts/bench.py``, built for each implementation (e3lab, e3nn, cuEquivariance).

``build_case(impl, case, size, device)`` returns ``(forward, step, items)``: ``forward()`` runs the case,
``step()`` runs forward and backward (``torch.autograd.grad`` of a fixed random output gradient with respect
to the inputs and parameters, so nothing accumulates), ``items`` counts edges (or vectors); or a string saying
why the implementation is skipped. Run directly, this file benchmarks the o3 cases only:

    python scripts/bench_o3.py [bench.py options]
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from types import ModuleType

import torch

from e3lab import math as lab_math
from e3lab import nn as lab_nn
from e3lab import o3 as lab_o3
from e3lab.graph import radius_graph

PEERS = ("e3nn", "e3nn-compiled", "cueq")
# e3lab with its TP kernel under torch.compile(dynamic=True): timed like a peer, compared like e3lab
OURS = ("e3lab", "e3lab-compiled")
SEED_IRREPS = ("10x0e + 10x1e", "0e + 1o + 2e", "20x0e + 10x1e")
MACE_IRREPS = ("32x0e + 32x1o + 32x2e", "0e + 1o + 2e", "32x0e + 32x1o + 32x2e")
UVU_IRREPS = ("64x0e + 64x1o + 64x2e", "0e + 1o + 2e + 3o")
CONV_RADIUS, CONV_NEIGHBORS = 1.5, 16.0
CUEQ_OUTPUTS_UP_TO_L2 = "0e+0o+1o+1e+2e+2o"  # cuEquivariance's filter for the channelwise (uvu) outputs

Built = tuple[Callable[[], object], Callable[[], object], int] | str


def _uvu_instructions(
    o3: ModuleType, irreps_in1: object = UVU_IRREPS[0], irreps_in2: object = UVU_IRREPS[1]
) -> tuple[str, list[tuple]]:
    """Channelwise paths of ``irreps_in1 x irreps_in2`` into each output irrep of ``l <= 2``, a term each."""
    in1, in2 = o3.Irreps(irreps_in1), o3.Irreps(irreps_in2)
    out, instructions = [], []
    for i1, (mul, ir1) in enumerate(in1):
        for i2, (_, ir2) in enumerate(in2):
            for ir in ir1 * ir2:
                if ir.l <= 2:
                    instructions.append((i1, i2, len(out), "uvu", True))
                    out.append(f"{mul}x{ir}")
    return " + ".join(out), instructions


def _stepper(fn: Callable[[], torch.Tensor], inputs: list[torch.Tensor]) -> tuple[Callable, Callable]:
    grad_out = torch.randn_like(fn().detach())

    def step() -> None:
        torch.autograd.grad(fn(), inputs, grad_out)

    return fn, step


def cueq_missing() -> str | None:
    """Why cuEquivariance's rows are skipped, or ``None`` when ``cuequivariance_torch`` imports."""
    return (
        "cuequivariance_torch not importable"
        if importlib.util.find_spec("cuequivariance_torch") is None
        else None
    )


def _tp_module(impl: str, case: str, device: torch.device) -> torch.nn.Module | str:
    shared = case == "tp_mace"  # tp_mace_edge: the same irreps, per-edge weights
    if impl == "cueq":
        if missing := cueq_missing():
            return missing
        import cuequivariance as cue
        import cuequivariance_torch as cuet

        kw = dict(layout=cue.mul_ir, shared_weights=shared, internal_weights=shared, device=device)
        if case == "tp_uvu":
            irreps = [cue.Irreps("O3", s) for s in UVU_IRREPS]
            return cuet.ChannelWiseTensorProduct(
                *irreps, filter_irreps_out=cue.Irreps("O3", CUEQ_OUTPUTS_UP_TO_L2), **kw
            )
        irreps = SEED_IRREPS if case == "tp_seed" else MACE_IRREPS
        return cuet.FullyConnectedTensorProduct(*(cue.Irreps("O3", s) for s in irreps), **kw)
    o3 = lab_o3 if impl.startswith("e3lab") else _e3nn().o3
    if case == "tp_uvu":
        out, instructions = _uvu_instructions(o3)
        module = o3.TensorProduct(
            *UVU_IRREPS, out, instructions, shared_weights=False, internal_weights=False
        )
    else:
        irreps = SEED_IRREPS if case == "tp_seed" else MACE_IRREPS
        module = o3.FullyConnectedTensorProduct(*irreps, shared_weights=shared)
    module = module.to(device)
    if impl == "e3lab-compiled":
        module.compile_kernel = True
    return torch.compile(module) if impl == "e3nn-compiled" else module


def _e3nn() -> ModuleType:
    import e3nn
    import e3nn.math
    import e3nn.nn
    import e3nn.o3

    return e3nn


def _tp_case(impl: str, case: str, size: int, device: torch.device) -> Built:
    module = _tp_module(impl, case, device)
    if isinstance(module, str):
        return module
    gen = torch.Generator(device=device).manual_seed(0)
    dims = [lab_o3.Irreps(s).dim for s in (SEED_IRREPS if case == "tp_seed" else MACE_IRREPS)[:2]]
    if case == "tp_uvu":
        dims = [lab_o3.Irreps(s).dim for s in UVU_IRREPS]
    x = torch.randn(size, dims[0], generator=gen, device=device, requires_grad=True)
    y = torch.randn(size, dims[1], generator=gen, device=device, requires_grad=True)
    params = [p for p in module.parameters() if p.requires_grad]
    if case == "tp_mace":
        return (*_stepper(lambda: module(x, y), [x, y, *params]), size)
    numel = module.weight_numel
    w = torch.randn(size, numel, generator=gen, device=device, requires_grad=True)
    return (*_stepper(lambda: module(x, y, w), [x, y, w]), size)


class _PeerConvolution(torch.nn.Module):
    """The seed convolution assembled from e3nn's pieces (same formula as ``e3lab.nn.Convolution``)."""

    def __init__(self, compiled: bool) -> None:
        super().__init__()
        e3nn = _e3nn()
        self.e3nn = e3nn
        self.irreps_sh = e3nn.o3.Irreps.spherical_harmonics(2)
        tp = e3nn.o3.FullyConnectedTensorProduct(
            SEED_IRREPS[0], self.irreps_sh, SEED_IRREPS[2], shared_weights=False
        )
        self.tp = torch.compile(tp) if compiled else tp
        self.fc = e3nn.nn.FullyConnectedNet([10, 16, tp.weight_numel], torch.relu)
        self.dim_out = tp.irreps_out.dim

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index
        vec = pos[dst] - pos[src]
        sh = self.e3nn.o3.spherical_harmonics(self.irreps_sh, vec, True, normalization="component")
        emb = self.e3nn.math.soft_one_hot_linspace(
            vec.norm(dim=1), 0.0, CONV_RADIUS, 10, basis="smooth_finite", cutoff=True
        )
        weight = self.fc(emb * 10**0.5)
        summand = self.tp(x[src], sh, weight)
        out = x.new_zeros(x.shape[0], self.dim_out).index_add(0, dst, summand)
        return out / CONV_NEIGHBORS**0.5


def _peer_radius_graph(pos: torch.Tensor) -> torch.Tensor:
    if importlib.util.find_spec("torch_cluster") is not None:
        import torch_cluster

        return torch_cluster.radius_graph(pos, CONV_RADIUS, max_num_neighbors=64)
    return radius_graph(pos, CONV_RADIUS, max_num_neighbors=64)


def _conv_case(impl: str, nodes: int, device: torch.device) -> Built:
    if impl == "cueq":
        return "no cuEquivariance convolution assembled (TP cases only)"
    gen = torch.Generator(device=device).manual_seed(0)
    density = CONV_NEIGHBORS / (4 / 3 * math.pi * CONV_RADIUS**3)
    side = (nodes / density) ** (1 / 3)
    pos = (torch.rand(nodes, 3, generator=gen, device=device) * side).requires_grad_()
    x = torch.randn(
        nodes, lab_o3.Irreps(SEED_IRREPS[0]).dim, generator=gen, device=device, requires_grad=True
    )
    if impl.startswith("e3lab"):
        conv = lab_nn.Convolution(SEED_IRREPS[0], SEED_IRREPS[2], CONV_NEIGHBORS, CONV_RADIUS, lmax=2)
        conv.tp.compile_kernel = impl == "e3lab-compiled"
        graph = lambda p: radius_graph(p, CONV_RADIUS, max_num_neighbors=64)  # noqa: E731
    else:
        conv = _PeerConvolution(compiled=impl == "e3nn-compiled")
        graph = _peer_radius_graph
    conv = conv.to(device)
    edges = int(graph(pos.detach()).shape[1])
    params = [p for p in conv.parameters() if p.requires_grad]
    return (*_stepper(lambda: conv(x, pos, graph(pos.detach())), [x, pos, *params]), edges)


GRAPH_DEGREE, GRAPH_HIDDEN = 32, 64
CHANNELWISE_IRREPS = ("32x0e + 32x1o + 32x2e", 3)  # node irreps, lmax of the edge spherical harmonics


class _GraphConvolution(torch.nn.Module):
    """The issue's GPU layer: edge SH, radial embedding, MLP (10-64-weights), TP(x[src], sh, w), scatter.

    ``case``: ``conv_seed_graph`` (the seed FCTP, SH lmax 2) or ``conv_uvu_graph`` (channelwise ``uvu`` of
    ``CHANNELWISE_IRREPS`` into every output with l <= 2). e3lab sums with ``TensorProduct.convolve`` (fused
    on its native and Triton paths); e3nn, e3nn-compiled (TP under torch.compile) and cueq (cuEquivariance's
    TP) with ``x[src]`` and ``index_add``. The MLP is e3lab's for e3lab, e3nn's for the peers.
    """

    def __init__(self, impl: str, case: str, device: torch.device) -> None:
        super().__init__()
        self.impl = impl
        lab = impl.startswith("e3lab")
        o3 = lab_o3 if lab else _e3nn().o3
        if case == "conv_seed_graph":
            irreps_in, lmax, irreps_out = SEED_IRREPS[0], 2, SEED_IRREPS[2]
        else:
            irreps_in, lmax = CHANNELWISE_IRREPS
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        if impl == "cueq":
            import cuequivariance as cue
            import cuequivariance_torch as cuet

            irreps = [cue.Irreps("O3", str(s)) for s in (irreps_in, self.irreps_sh)]
            kw = dict(layout=cue.mul_ir, shared_weights=False, internal_weights=False, device=device)
            if case == "conv_seed_graph":
                tp = cuet.FullyConnectedTensorProduct(*irreps, cue.Irreps("O3", irreps_out), **kw)
            else:
                tp = cuet.ChannelWiseTensorProduct(
                    *irreps, filter_irreps_out=cue.Irreps("O3", CUEQ_OUTPUTS_UP_TO_L2), **kw
                )
        elif case == "conv_seed_graph":
            tp = o3.FullyConnectedTensorProduct(irreps_in, self.irreps_sh, irreps_out, shared_weights=False)
        else:
            out, instructions = _uvu_instructions(o3, irreps_in, self.irreps_sh)
            tp = o3.TensorProduct(
                irreps_in, self.irreps_sh, out, instructions, shared_weights=False, internal_weights=False
            )
        self.dim_out = tp.irreps_out.dim
        self.tp = torch.compile(tp) if impl == "e3nn-compiled" else tp
        sizes = [10, GRAPH_HIDDEN, tp.weight_numel]
        self.fc = (
            lab_nn.FullyConnectedNet(sizes, torch.nn.functional.silu)
            if lab
            else _e3nn().nn.FullyConnectedNet(sizes, torch.nn.functional.silu)
        )
        self.math = lab_math if lab else _e3nn().math
        self.o3 = o3

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, src: torch.Tensor, dst: torch.Tensor
    ) -> torch.Tensor:
        vec = pos[dst] - pos[src]
        sh = self.o3.spherical_harmonics(self.irreps_sh, vec, True, normalization="component")
        emb = self.math.soft_one_hot_linspace(
            vec.norm(dim=1), 0.0, 2.0, 10, basis="smooth_finite", cutoff=True
        )
        if self.impl.startswith("e3lab"):
            hidden, matrix = self.fc.hidden_and_last_matrix(emb * 10**0.5)
            out = self.tp.convolve(x, sh, hidden, matrix, src, dst, x.shape[0])
        else:
            summand = self.tp(x[src], sh, self.fc(emb * 10**0.5))
            out = x.new_zeros(x.shape[0], self.dim_out).index_add(0, dst, summand)
        return out / GRAPH_DEGREE**0.5


def _graph_conv_case(impl: str, case: str, nodes: int, device: torch.device) -> Built:
    if impl == "e3lab-compiled":
        return "the fused convolve path does not use the compiled kernel"
    if impl == "cueq" and (missing := cueq_missing()):
        return missing
    gen = torch.Generator(device=device).manual_seed(0)
    conv = _GraphConvolution(impl, case, device).to(device)
    irreps_in = SEED_IRREPS[0] if case == "conv_seed_graph" else CHANNELWISE_IRREPS[0]
    pos = torch.rand(nodes, 3, generator=gen, device=device).requires_grad_()
    x = torch.randn(nodes, lab_o3.Irreps(irreps_in).dim, generator=gen, device=device, requires_grad=True)
    dst = torch.arange(nodes, device=device).repeat_interleave(GRAPH_DEGREE)
    src = torch.randint(0, nodes, (nodes * GRAPH_DEGREE,), generator=gen, device=device)
    params = [p for p in conv.parameters() if p.requires_grad]
    return (*_stepper(lambda: conv(x, pos, src, dst), [x, pos, *params]), int(src.numel()))


def _sh_case(impl: str, lmax: int, size: int, device: torch.device) -> Built:
    if impl == "cueq":
        return "no cuEquivariance spherical harmonics wired (TP cases only)"
    gen = torch.Generator(device=device).manual_seed(1)
    vectors = (torch.randn(size, 3, generator=gen, device=device) + 1e-3).requires_grad_()
    if impl == "e3lab-compiled":
        return "no tensor product in this case"
    o3 = lab_o3 if impl == "e3lab" else _e3nn().o3
    irreps = o3.Irreps.spherical_harmonics(lmax)
    fn = lambda v: o3.spherical_harmonics(irreps, v, normalize=True, normalization="component")  # noqa: E731
    if impl == "e3nn-compiled":
        fn = torch.compile(fn)
    return (*_stepper(lambda: fn(vectors), [vectors]), size)


def build_case(impl: str, case: str, size: int, device: torch.device) -> Built:
    """``(forward, step, items)`` of ``case`` for ``impl`` (one of ``OURS`` or ``PEERS``), or why not."""
    if impl not in OURS and impl != "cueq" and importlib.util.find_spec("e3nn") is None:
        return "e3nn not importable"
    if case.startswith("tp_"):
        return _tp_case(impl, case, size, device)
    if case.endswith("_graph"):
        return _graph_conv_case(impl, case, size, device)
    if case.startswith("conv_"):
        return _conv_case(impl, size, device)
    if case.startswith("sh_l"):
        return _sh_case(impl, int(case[4:]), size, device)
    raise ValueError(f"unknown case {case!r}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from bench import main

    main(["--cases", "tp_seed,sh_l2,sh_l6", *sys.argv[1:]])
