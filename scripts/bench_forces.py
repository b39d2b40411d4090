"""Force-field cases of ``scripts/bench.py``: energy and forces of small interatomic-potential models.

``build_force_case(impl, case, nodes, device)`` returns ``(infer, step, edges)`` like ``bench_o3.build_case``:
``infer()`` is an MD step's evaluation (energy and forces ``-dE/dpos``, no graph kept), ``step()`` the
force-training step (energy and forces with ``create_graph=True``, a loss on both, its gradient with respect
to the parameters). The graph is fixed (a neighbour list reused between steps, as in MD) and not timed.

Models (the same formulas in e3lab and in e3nn 0.6.0's primitives):
  force_seed_*  two seed convolutions ``4x0e -> 10x0e+10x1e -> 20x0e+10x1e`` (SH lmax 2, smooth_finite
                radial basis of 10, MLP 10-16-weights, ReLU), energy = sum of the last scalars
  force_uvu_*   NequIP-style: two channelwise (``uvu``) convolutions of ``32x0e+32x1o+32x2e`` with SH lmax 3,
                8 Bessel functions times a polynomial cutoff (p = 6), MLP 8-64-weights (SiLU), an
                equivariant linear map between them, energy = sum of the last scalars
Positions are uniform in a box whose density gives ~37.9k edges for 1k nodes (the issue's graph: 37.6k).

"cueq": the e3nn model with cuEquivariance 0.13's tensor product in the same pipeline (``x[src]``, the
product, ``index_add``), as in the ``conv_*_graph`` cases: ``FullyConnectedTensorProduct`` for the seed model,
``ChannelWiseTensorProduct`` (the same 13 paths) for the channelwise one; on a GPU with
``cuequivariance_ops_torch`` its CUDA kernels run, elsewhere its PyTorch fallback.

"e3nn-compiled" / "e3lab-compiled": the energy-and-forces function (with its ``autograd.grad``) traced by
``make_fx`` into one graph of forward and backward operations, then ``torch.compile``d, so that the training
gradient is a first-order gradient of a compiled graph (``torch.compile`` alone cannot differentiate its own
backward). e3lab's kernels are custom operators in that graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from bench_o3 import cueq_missing  # scripts/ is on sys.path
from e3lab import nn as lab_nn
from e3lab import o3 as lab_o3
from e3lab.graph import radius_graph

RADIUS, DEGREE = 1.5, 50.0  # DEGREE sets the density: 1k nodes -> 37.9k edges (boundaries lose some)
SEED_LAYERS = ("4x0e", "10x0e + 10x1e", "20x0e + 10x1e")
UVU_IRREPS, UVU_LMAX, UVU_RADIAL, UVU_HIDDEN = "32x0e + 32x1o + 32x2e", 3, 8, 64


def _e3nn() -> ModuleType:
    import e3nn
    import e3nn.math
    import e3nn.nn
    import e3nn.o3

    return e3nn


def bessel_with_cutoff(length: torch.Tensor, number: int, p: float = 6.0) -> torch.Tensor:
    """NequIP's radial embedding in plain torch: ``(2/r_c) sin(n pi r / r_c) / r`` times the polynomial
    envelope of order ``p`` (the e3nn model's; e3lab's is ``nn.BesselEmbedding``, the same formula)."""
    r = length[:, None]
    n = torch.arange(1, number + 1, dtype=length.dtype, device=length.device) * math.pi
    d = r / RADIUS
    envelope = 1 - (p + 1) * (p + 2) / 2 * d**p + p * (p + 2) * d ** (p + 1) - p * (p + 1) / 2 * d ** (p + 2)
    return (2 / RADIUS) * torch.sin(n * d) / r * torch.where(d < 1, envelope, torch.zeros_like(d))


class _E3nnConvolution(torch.nn.Module):
    """A convolution from e3nn's primitives: SH, radial embedding, MLP, ``TensorProduct(x[src], sh, w)``,
    ``index_add`` into the targets, divided by ``sqrt(DEGREE)``."""

    def __init__(self, irreps_in: str, irreps_out: str, channelwise: bool) -> None:
        super().__init__()
        e3nn = _e3nn()
        self.e3nn, self.channelwise = e3nn, channelwise
        self.irreps_sh = e3nn.o3.Irreps.spherical_harmonics(UVU_LMAX if channelwise else 2)
        if channelwise:
            out, instructions = lab_nn.channelwise_paths(
                lab_o3.Irreps(irreps_in), lab_o3.Irreps(str(self.irreps_sh)), lab_o3.Irreps(irreps_out)
            )
            self.tp = e3nn.o3.TensorProduct(
                irreps_in,
                self.irreps_sh,
                str(out),
                instructions,
                shared_weights=False,
                internal_weights=False,
            )
            self.fc = e3nn.nn.FullyConnectedNet(
                [UVU_RADIAL, UVU_HIDDEN, self.tp.weight_numel], torch.nn.functional.silu
            )
        else:
            self.tp = e3nn.o3.FullyConnectedTensorProduct(
                irreps_in, self.irreps_sh, irreps_out, shared_weights=False
            )
            self.fc = e3nn.nn.FullyConnectedNet([10, 16, self.tp.weight_numel], torch.relu)
        self.irreps_out = self.tp.irreps_out

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index
        vec = pos[dst] - pos[src]
        sh = self.e3nn.o3.spherical_harmonics(self.irreps_sh, vec, True, normalization="component")
        if self.channelwise:
            emb = bessel_with_cutoff(vec.norm(dim=1), UVU_RADIAL)
        else:
            emb = self.e3nn.math.soft_one_hot_linspace(
                vec.norm(dim=1), 0.0, RADIUS, 10, basis="smooth_finite", cutoff=True
            )
            emb = emb * 10**0.5
        summand = self.tp(x[src], sh, self.fc(emb))
        out = x.new_zeros(x.shape[0], self.tp.irreps_out.dim).index_add(0, dst, summand)
        return out / DEGREE**0.5


class _CueqConvolution(_E3nnConvolution):
    """The e3nn convolution with cuEquivariance's product in its place (same paths, ``mul_ir`` layout)."""

    def __init__(self, irreps_in: str, irreps_out: str, channelwise: bool) -> None:
        super().__init__(irreps_in, irreps_out, channelwise)
        import cuequivariance as cue
        import cuequivariance_torch as cuet

        irreps = [cue.Irreps("O3", str(i)) for i in (irreps_in, self.irreps_sh)]
        options = dict(layout=cue.mul_ir, shared_weights=False, internal_weights=False)
        if channelwise:
            tp = cuet.ChannelWiseTensorProduct(
                *irreps, filter_irreps_out=cue.Irreps("O3", irreps_out), **options
            )
        else:
            tp = cuet.FullyConnectedTensorProduct(*irreps, cue.Irreps("O3", irreps_out), **options)
        if tp.weight_numel != self.tp.weight_numel:
            raise RuntimeError(
                f"cuEquivariance's product has {tp.weight_numel} weights, e3nn's {self.tp.weight_numel}"
            )
        self.tp, self.irreps_out = tp, tp.irreps_out


class _E3labConvolution(torch.nn.Module):
    """The same with e3lab's ``nn.Convolution`` (for ``uvu``: channelwise, on NequIP's Bessel embedding)."""

    def __init__(self, irreps_in: str, irreps_out: str, channelwise: bool) -> None:
        super().__init__()
        if channelwise:
            self.conv = lab_nn.Convolution(
                irreps_in, irreps_out, DEGREE, RADIUS, lmax=UVU_LMAX, radial_basis=None,
                radial_number=UVU_RADIAL, radial_hidden=UVU_HIDDEN, radial_act=torch.nn.functional.silu,
                connection="channelwise",
            )  # fmt: skip
            self.radial = lab_nn.BesselEmbedding(RADIUS, UVU_RADIAL, trainable=False)
        else:
            self.conv = lab_nn.Convolution(irreps_in, irreps_out, DEGREE, RADIUS, lmax=2)
            self.radial = None
        self.irreps_out = self.conv.irreps_out

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        edges = None
        if self.radial is not None:
            edges = lab_nn.edge_features(self.conv.irreps_sh, self.radial, pos, edge_index)
        return self.conv(x, pos, edge_index, validate=False, edges=edges)


class _Model(torch.nn.Module):
    """Two convolutions (with an equivariant linear map between the channelwise ones); energy = sum of the
    scalar outputs of the last one."""

    def __init__(self, impl: str, channelwise: bool) -> None:
        super().__init__()
        lab = impl.startswith("e3lab")
        conv = _E3labConvolution if lab else _CueqConvolution if impl == "cueq" else _E3nnConvolution
        o3 = lab_o3 if lab else _e3nn().o3
        if channelwise:
            first = conv(UVU_IRREPS, UVU_IRREPS, True)
            linear = o3.Linear(str(first.irreps_out), UVU_IRREPS)
            self.layers = torch.nn.ModuleList([first, linear, conv(UVU_IRREPS, UVU_IRREPS, True)])
            self.geometric = (True, False, True)  # layers that take (x, pos, edge_index)
        else:
            self.layers = torch.nn.ModuleList(
                [conv(SEED_LAYERS[0], SEED_LAYERS[1], False), conv(SEED_LAYERS[1], SEED_LAYERS[2], False)]
            )
            self.geometric = (True, True)
        irreps = lab_o3.Irreps(str(self.layers[-1].irreps_out))
        scalars = [torch.full((mul * ir.dim,), float(ir.l == 0 and ir.p == 1)) for mul, ir in irreps]
        self.register_buffer("scalars", torch.cat(scalars).bool())

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        for layer, geometric in zip(self.layers, self.geometric, strict=True):
            x = layer(x, pos, edge_index) if geometric else layer(x)
        return x[:, self.scalars].sum()


def _energy_and_forces(
    model: _Model, x: torch.Tensor, edge_index: torch.Tensor, create_graph: bool
) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    names = [name for name, _ in model.named_parameters()]

    def evaluate(pos: torch.Tensor, *params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            if not pos.requires_grad:
                pos = pos.requires_grad_()
            weights = dict(zip(names, params, strict=True))
            energy = torch.func.functional_call(model, weights, (x, pos, edge_index))
            (grad,) = torch.autograd.grad(energy, pos, create_graph=create_graph)
        return energy, -grad

    return evaluate


def _without_profiler_ranges(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """``gm`` without the ``record_function`` ranges ``make_fx`` recorded (e3lab's profiler stages): they
    compute nothing and ``torch.compile(fullgraph=True)`` cannot trace them."""
    ranges = [n for n in gm.graph.nodes if str(n.target).startswith("profiler.")]
    for node in sorted(ranges, key=lambda n: "exit" not in str(n.target)):  # exits first: they use enters
        gm.graph.erase_node(node)
    gm.recompile()
    return gm


def build_force_case(impl: str, case: str, nodes: int, device: torch.device) -> tuple | str:
    """``(infer, step, edges)`` of ``case`` (``force_seed_*`` or ``force_uvu_*``) for ``impl``, or why not."""
    if impl == "cueq" and (missing := cueq_missing()):
        return missing
    gen = torch.Generator(device=device).manual_seed(0)
    side = (nodes / (DEGREE / (4 / 3 * math.pi * RADIUS**3))) ** (1 / 3)
    pos0 = torch.rand(nodes, 3, generator=gen, device=device) * side
    edge_index = radius_graph(pos0, RADIUS, max_num_neighbors=256)
    channelwise = case.startswith("force_uvu")
    dim_in = lab_o3.Irreps(UVU_IRREPS if channelwise else SEED_LAYERS[0]).dim
    x = torch.randn(nodes, dim_in, generator=gen, device=device)
    torch.manual_seed(0)
    model = _Model(impl, channelwise).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    energy_ref = torch.tensor(1.0, device=device)
    forces_ref = torch.randn(nodes, 3, generator=gen, device=device)
    train_fn = _energy_and_forces(model, x, edge_index, create_graph=True)
    infer_fn = _energy_and_forces(model, x, edge_index, create_graph=False)
    compiled = impl.endswith("-compiled")
    if compiled:  # one traced graph of forward and backward: run without autograd for inference
        traced = _without_profiler_ranges(make_fx(train_fn)(pos0.clone().requires_grad_(), *params))
        train_fn = infer_fn = torch.compile(traced, fullgraph=True)

    def infer() -> None:
        with torch.set_grad_enabled(not compiled):
            infer_fn(pos0.clone(), *params)

    def step() -> None:
        energy, forces = train_fn(pos0.clone().requires_grad_(), *params)
        loss = (energy - energy_ref).square() + (forces - forces_ref).square().mean()
        torch.autograd.grad(loss, params)

    return infer, step, int(edge_index.shape[1])
