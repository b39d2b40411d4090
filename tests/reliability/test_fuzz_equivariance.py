"""Fuzzing (hypothesis): random irreps, random tensor-product instruction sets and random geometries give
finite outputs that are equivariant under random rotations and inversion (float64, error < 1e-10)."""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e3lab import nn, o3

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI does not flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# mode -> does it fit (mul1, mul2, mul_out, has_weight)
MODES = {
    "uvw": lambda m1, m2, mo, w: w,
    "uvu": lambda m1, m2, mo, w: m1 == mo,
    "uvv": lambda m1, m2, mo, w: m2 == mo,
    "uuw": lambda m1, m2, mo, w: m1 == m2 and (w or mo == 1),
    "uuu": lambda m1, m2, mo, w: m1 == m2 == mo,
    "uvuv": lambda m1, m2, mo, w: m1 * m2 == mo,
}


def max_abs(t: torch.Tensor) -> float:
    """Largest absolute entry (0 for an empty tensor)."""
    return float(t.detach().abs().max()) if t.numel() else 0.0


def random_orthogonal(generator: torch.Generator, inversion: bool) -> torch.Tensor:
    """A rotation from uniform Euler angles, times -1 with ``inversion``."""
    alpha, gamma = (2 * math.pi * torch.rand(2, generator=generator)).unbind()
    beta = torch.acos(2 * torch.rand((), generator=generator) - 1)
    R = o3.angles_to_matrix(alpha, beta, gamma)
    return -R if inversion else R


irreps_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([1, -1])),
    min_size=1,
    max_size=3,
).map(lambda terms: o3.Irreps([(mul, (l, p)) for mul, l, p in terms]))


@st.composite
def tensor_products(draw: st.DrawFn) -> o3.TensorProduct:
    """A TensorProduct on random irreps with a random valid subset of paths, modes and normalisations."""
    irreps1, irreps2 = draw(irreps_strategy), draw(irreps_strategy)
    # output terms reachable from random input pairs (with multiplicities that fit the modes), plus noise
    out_terms = list(draw(irreps_strategy)) if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 3))):
        (m1, ir1), (m2, ir2) = draw(st.sampled_from(irreps1)), draw(st.sampled_from(irreps2))
        mul_out = draw(st.sampled_from([m1, m2, m1 * m2, 1]))
        out_terms.append((mul_out, draw(st.sampled_from(list(ir1 * ir2)))))
    irreps_out = o3.Irreps(draw(st.permutations(out_terms)))
    candidates = []
    for i1, (m1, ir1) in enumerate(irreps1):
        for i2, (m2, ir2) in enumerate(irreps2):
            for io, (mo, ir_out) in enumerate(irreps_out):
                if ir_out not in list(ir1 * ir2):
                    continue
                for mode, fits in MODES.items():
                    for has_weight in (True, False):
                        if fits(m1, m2, mo, has_weight):
                            candidates.append((i1, i2, io, mode, has_weight))
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=6)) if candidates else []
    instructions = [(*ins, draw(st.floats(0.25, 4.0))) for ins in chosen]
    return o3.TensorProduct(
        irreps1,
        irreps2,
        irreps_out,
        instructions,
        irrep_normalization=draw(st.sampled_from(["component", "norm", "none"])),
        path_normalization=draw(st.sampled_from(["element", "path", "none"])),
        shared_weights=draw(st.booleans()),
    )


@FUZZ
@given(tp=tensor_products(), seed=st.integers(0, 2**31 - 1), batch=st.integers(0, 4), inversion=st.booleans())
def test_random_tensor_products_are_finite_and_equivariant(
    float64: None, tp: o3.TensorProduct, seed: int, batch: int, inversion: bool
) -> None:
    generator = torch.Generator().manual_seed(seed)
    tp = tp.double()
    x = torch.randn(batch, tp.irreps_in1.dim, generator=generator, dtype=torch.float64)
    y = torch.randn(batch, tp.irreps_in2.dim, generator=generator, dtype=torch.float64)
    weight = None
    if not tp.internal_weights and tp.weight_numel > 0:
        shape = (tp.weight_numel,) if tp.shared_weights else (batch, tp.weight_numel)
        weight = torch.randn(*shape, generator=generator, dtype=torch.float64)
    R = random_orthogonal(generator, inversion)
    D1, D2 = tp.irreps_in1.D_from_matrix(R), tp.irreps_in2.D_from_matrix(R)
    D_out = tp.irreps_out.D_from_matrix(R)
    out = tp(x, y, weight)
    assert out.shape == (batch, tp.irreps_out.dim)
    assert torch.isfinite(out).all()
    rotated = tp(x @ D1.T, y @ D2.T, weight)
    assert max_abs(rotated - out @ D_out.T) < 1e-10 * (1 + max_abs(out))


@st.composite
def geometries(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``[N, 3]`` (N = 0..8) and ``batch [N]`` (up to 3 graphs).

    Points lie on a grid of step 0.1 (so distinct points are >= 0.1 apart and many coincide), scaled by
    1e-3 (all within the radius), 1 or 1e3 (no edges), and shifted by 1e3 at unit scale. Rounding the
    rotated positions then moves the edge directions by ~1e-12 at most, far inside the 1e-10 tolerance
    (the 1e6 offsets of ``test_bad_input_core`` are ill-conditioned on purpose and checked there).
    """
    n = draw(st.integers(0, 8))
    coordinate = st.integers(-30, 30).map(lambda k: k / 10)
    points = draw(st.lists(st.tuples(coordinate, coordinate, coordinate), min_size=n, max_size=n))
    pos = torch.tensor(points, dtype=torch.float64).reshape(n, 3)
    if n > 1 and draw(st.booleans()):  # make some points coincide
        copies = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
        for dst, src in copies:
            pos[dst] = pos[src]
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    offset = draw(st.sampled_from([0.0, 1e3])) if scale == 1.0 else 0.0
    graph_of_node = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return pos * scale + offset, torch.tensor(graph_of_node, dtype=torch.long)


_NETS: dict[str, nn.EquivariantConvNet] = {}


def fuzz_net() -> nn.EquivariantConvNet:
    """A small network (built in the test's float64 default dtype) with a smooth radial cutoff (an edge at
    exactly the radius contributes 0)."""
    if "net" not in _NETS:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            _NETS["net"] = nn.EquivariantConvNet(
                "2x0e + 1x1o + 1x2e",
                "4x0e + 2x0o + 2x1o + 2x1e + 1x2e",
                "1x0e + 1x0o + 1x1o + 1x1e + 1x2e",
                num_layers=2,
                lmax=2,
                max_radius=1.5,
                radial_basis="smooth_finite",
                radial_number=4,
                radial_cutoff=True,
                radial_hidden=8,
                num_neighbors=3.0,
            )
    return _NETS["net"]


@FUZZ
@given(geometry=geometries(), seed=st.integers(0, 2**31 - 1), inversion=st.booleans())
def test_random_geometries_are_finite_and_equivariant(
    float64: None, geometry: tuple[torch.Tensor, torch.Tensor], seed: int, inversion: bool
) -> None:
    pos, batch = geometry
    net = fuzz_net()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(pos.shape[0], net.irreps_in.dim, generator=generator, dtype=torch.float64)
    R = random_orthogonal(generator, inversion)
    D_in, D_out = net.irreps_in.D_from_matrix(R), net.irreps_out.D_from_matrix(R)
    shift = torch.randn(3, generator=generator, dtype=torch.float64)
    pos = pos.requires_grad_(True)
    out = net(x, pos, batch)
    assert out.shape == (pos.shape[0], net.irreps_out.dim)
    assert torch.isfinite(out).all()
    (grad,) = torch.autograd.grad(out.pow(2).sum(), pos, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(grad).all()
    moved = net(x @ D_in.T, pos.detach() @ R.T + shift, batch)
    assert max_abs(moved - out.detach() @ D_out.T) < 1e-10 * (1 + max_abs(out))
