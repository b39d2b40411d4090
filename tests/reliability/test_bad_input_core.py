"""Bad input to o3, math, nn and graph: a clear error naming the bad value, or a documented finite result.

Each case here is a row of ``docs/bad_input.md``.
"""

from __future__ import annotations

import pytest
import torch

from e3lab import nn, o3
from e3lab.graph import Graph, GraphBatch, collate_graphs, radius_graph
from e3lab.math import soft_one_hot_linspace


def small_net(**kwargs: object) -> nn.EquivariantConvNet:
    """A two-layer network on ``2x0e + 1x1o`` inputs, small enough for unit tests."""
    args = dict(num_layers=2, lmax=2, max_radius=1.5, radial_hidden=8)
    args.update(kwargs)
    return nn.EquivariantConvNet("2x0e + 1x1o", "4x0e + 2x1o", "1x0e + 1x1o", **args)


# ---------------------------------------------------------------- irreps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10x1q", r"invalid parity 'q' in '10x1q' \(expected 'e', 'o' or 'y'\)"),
        ("2x1E", r"invalid parity 'E' in '2x1E'"),
        ("10x1", r"missing parity in '10x1' \(write '1e', '1o' or '1y'\)"),
        ("-1x0e", r"negative multiplicity -1 in '-1x0e'"),
        ("3x-1e", r"negative degree l in '-1e' of '3x-1e' \(l must be an integer >= 0\)"),
        ("1.5x0e", r"invalid multiplicity '1.5' in '1.5x0e'"),
        ("x1e", r"invalid multiplicity '' in 'x1e'"),
        ("1x", r"invalid irrep '' in '1x'"),
        ("1xx0e", r"invalid irrep 'x0e' in '1xx0e'"),
        ("abc", r"invalid irrep 'abc' in 'abc'"),
        ("0e + + 1o", r"empty term in '0e \+ \+ 1o'"),
        ("1e+", r"empty term in '1e\+'"),
    ],
)
def test_malformed_irreps_strings_name_the_bad_term(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        o3.Irreps(text)


def test_irreps_from_pairs_and_irrep_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"multiplicity must be >= 0, got -1 for 0e"):
        o3.Irreps([(-1, "0e")])
    with pytest.raises(TypeError, match=r"multiplicity must be an int, got 1.5"):
        o3.Irreps([(1.5, "0e")])
    with pytest.raises(ValueError, match=r"parity p must be 1 \(even\) or -1 \(odd\), got 2"):
        o3.Irrep(1, 2)
    with pytest.raises(ValueError, match=r"degree l must be >= 0, got -1"):
        o3.Irrep(-1, 1)
    with pytest.raises(TypeError, match=r"Irrep degree l must be an int, got 1.5"):
        o3.Irrep(1.5, 1)
    with pytest.raises(TypeError, match=r"cannot make Irreps from 5 of type int"):
        o3.Irreps(5)


def test_degree_out_of_range_for_harmonics_and_3j() -> None:
    with pytest.raises(ValueError, match=r"at least one degree l >= 0, got \[-1\]"):
        o3.spherical_harmonics(-1, torch.randn(4, 3), True)
    with pytest.raises(TypeError, match=r"l must be an int.*got 1.5"):
        o3.spherical_harmonics(1.5, torch.randn(4, 3), True)
    with pytest.raises(ValueError, match=r"wigner_3j\(1, 1, 3\) breaks the triangle rule.*in 0..2"):
        o3.wigner_3j(1, 1, 3)
    with pytest.raises(ValueError, match=r"wigner_D needs an int l >= 0, got -2"):
        o3.wigner_D(-2, torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0.0))


def test_high_degree_has_no_upper_bound_and_stays_accurate(float64: None) -> None:
    """There is no maximum l: the recurrence stays exact in norm and equivariant at l = 16."""
    l = 16
    x = torch.randn(20, 3)
    y = o3.spherical_harmonics(l, x, True, normalization="component")
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.pow(2).sum(-1), torch.full((20,), 2.0 * l + 1), atol=1e-10, rtol=0)
    R = o3.rand_matrix()
    D = o3.Irrep(l, 1).D_from_matrix(R)
    y_rot = o3.spherical_harmonics(l, x @ R.T, True, normalization="component")
    assert (y_rot - y @ D.T).abs().max() < 1e-10


# ---------------------------------------------------------------- feature tensors, dtypes, devices, weights


def test_tensor_product_checks_dims_dtypes_devices_and_weights() -> None:
    tp = o3.FullyConnectedTensorProduct("2x0e + 1x1o", "0e + 1o", "2x0e + 1x1o")
    x, y = torch.randn(5, 5), torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"x has shape \(5, 6\) but irreps_in1 = 2x0e\+1x1o needs .* 5"):
        tp(torch.randn(5, 6), y)
    with pytest.raises(ValueError, match=r"y has shape \(5, 3\) but irreps_in2 = 1x0e\+1x1o needs .* 4"):
        tp(x, torch.randn(5, 3))
    with pytest.raises(TypeError, match=r"mixed dtypes: x torch.float64, y torch.float32.*\.to\(dtype\)"):
        tp(x.double(), y)
    with pytest.raises(TypeError, match=r"mixed dtypes: x torch.int64"):
        tp(x.long(), y.long())
    with pytest.raises(ValueError, match=r"mixed devices: x on cpu, y on meta"):
        tp(x, y.to("meta"))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\); shared weights need shape \[9\]"):
        tp(x, y, torch.randn(3))
    with pytest.raises(ValueError, match=r"batch dimensions do not broadcast: x \(5, 5\), y \(4, 4\)"):
        tp(x, torch.randn(4, 4))


def test_tensor_product_per_sample_weights_are_checked() -> None:
    tp = o3.FullyConnectedTensorProduct("2x0e + 1x1o", "0e + 1o", "2x0e + 1x1o", shared_weights=False)
    x, y = torch.randn(5, 5), torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"has no internal weights: pass weight of shape \[\.\.\., 9\]"):
        tp(x, y)
    with pytest.raises(ValueError, match=r"weight has shape \(5, 10\); per-sample weights need .*9"):
        tp(x, y, torch.randn(5, 10))
    with pytest.raises(TypeError, match=r"weight torch.float64"):
        tp(x, y, torch.randn(5, tp.weight_numel, dtype=torch.float64))


def test_linear_harmonics_mlp_and_gate_check_their_inputs() -> None:
    lin = o3.Linear("2x0e + 1x1o", "3x0e + 1x1o")
    with pytest.raises(ValueError, match=r"features have shape \(4, 6\) but irreps_in = 2x0e\+1x1o needs"):
        lin(torch.randn(4, 6))
    with pytest.raises(TypeError, match=r"weight is torch.float32 .* features are torch.float64"):
        lin(torch.randn(4, 5, dtype=torch.float64))
    external = o3.Linear("2x0e + 1x1o", "3x0e + 1x1o", shared_weights=False, internal_weights=False)
    with pytest.raises(
        ValueError, match=rf"weight has shape \(4, 3\); expected \[\.\.\., {external.weight_numel}"
    ):
        external(torch.randn(4, 5), torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"x must have shape \[\.\.\., 3\] \(vectors\), got \(4, 2\)"):
        o3.spherical_harmonics(2, torch.randn(4, 2), True)
    with pytest.raises(ValueError, match=r"x must have shape \[\.\.\., 3\] \(vectors\), got \(4, 4\)"):
        o3.SphericalHarmonics(2, True)(torch.randn(4, 4))
    with pytest.raises(TypeError, match=r"floating-point tensor, got torch.int64; .*x.float\(\)"):
        o3.spherical_harmonics(2, torch.randint(0, 3, (4, 3)), True)
    with pytest.raises(ValueError, match=r"FullyConnectedNet\[4, 8, 2\] expects inputs of shape \[\.\.\., 4"):
        nn.FullyConnectedNet([4, 8, 2], torch.relu)(torch.randn(3, 5))
    gate = nn.Gate("2x0e", [torch.relu], "1x0e", [torch.sigmoid], "1x1o")
    with pytest.raises(ValueError, match=r"Gate expects features of shape \[\.\.\., 6\].*got \[3, 5\]"):
        gate(torch.randn(3, 5))


def test_radial_basis_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"basis='gauss' is not a valid basis: choose one of gaussian"):
        soft_one_hot_linspace(torch.rand(3), 0.0, 1.0, 5, "gauss", True)
    with pytest.raises(ValueError, match=r"cutoff='yes' is not a bool"):
        soft_one_hot_linspace(torch.rand(3), 0.0, 1.0, 5, "gaussian", "yes")
    with pytest.raises(ValueError, match=r"number=0 must be a positive int"):
        soft_one_hot_linspace(torch.rand(3), 0.0, 1.0, 0, "gaussian", True)
    with pytest.raises(ValueError, match=r"start == end == 1.0: .* give end != start"):
        soft_one_hot_linspace(torch.rand(3), 1.0, 1.0, 5, "gaussian", True)


def test_network_checks_shapes_and_dtypes(float64: None) -> None:
    net = small_net()
    pos = torch.randn(3, 3)
    with pytest.raises(ValueError, match=r"x must have shape \[N, irreps_in.dim\] = \[3, 5\].*got \[3, 6\]"):
        net(torch.randn(3, 6), pos)
    with pytest.raises(TypeError, match=r"x is torch.float32 but pos is torch.float64"):
        net(torch.randn(3, 5, dtype=torch.float32), pos)
    with pytest.raises(TypeError, match=r"x and pos are torch.float32 but the model is torch.float64"):
        net(torch.randn(3, 5, dtype=torch.float32), pos.float())
    with pytest.raises(TypeError, match=r"\[4, 8\] has torch.float64 weights but x is torch.float32"):
        nn.FullyConnectedNet([4, 8], torch.relu)(torch.randn(2, 4, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"pos is on meta but the model is on cpu: move them to one device"):
        net(torch.randn(3, 5), pos.to("meta"))
    with pytest.raises(ValueError, match=r"x is on meta but the model is on cpu"):
        net(torch.randn(3, 5, device="meta"), pos)
    with pytest.raises(ValueError, match=r"pos must have shape \[N, 3\], got \[3, 2\]"):
        net(torch.randn(3, 5), torch.randn(3, 2))
    with pytest.raises(TypeError, match=r"edge_index must be an integer tensor, got torch.float64"):
        net(torch.randn(3, 5), pos, edge_index=torch.zeros(2, 1))
    with pytest.raises(ValueError, match=r"edge_index has indices in \[0, 7\] but there are 3 nodes"):
        net(torch.randn(3, 5), pos, edge_index=torch.tensor([[0], [7]]))


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_positions_are_rejected_everywhere(bad: float) -> None:
    pos = torch.tensor([[0.0, 0.0, 0.0], [bad, 0.0, 0.0], [1.0, 0.0, 0.0]])
    for backend in ("auto", "native"):
        with pytest.raises(ValueError, match=r"pos has 1 row\(s\) with NaN or Inf"):
            radius_graph(pos, 1.5, backend=backend)
    with pytest.raises(ValueError, match=r"pos has 1 row\(s\) with NaN or Inf"):
        Graph(pos=pos, x=torch.ones(3, 1))
    with pytest.raises(ValueError, match=r"pos has 1 row\(s\) with NaN or Inf"):
        small_net()(torch.randn(3, 5), pos)


def test_zero_length_edges_give_finite_harmonics_and_gradients(float64: None) -> None:
    """At the zero vector Y^0 is kept and every l > 0 component is 0.

    The gradient is 0 with ``normalize=True`` and the polynomials' own (``sqrt(3)`` from Y^1) without.
    """
    for normalize, grad in ((True, 0.0), (False, 3**0.5)):
        v = torch.zeros(4, 3, requires_grad=True)
        y = o3.spherical_harmonics([0, 1, 2, 3], v, normalize, normalization="component")
        y.sum().backward()
        assert torch.equal(y[:, 0], torch.ones(4)) and torch.equal(y[:, 1:], torch.zeros(4, 15))
        torch.testing.assert_close(v.grad, torch.full((4, 3), grad), atol=1e-15, rtol=0)


@pytest.mark.parametrize("basis", ["smooth_finite", "gaussian", "cosine", "fourier", "bessel"])
def test_coincident_points_give_finite_outputs_and_gradients(float64: None, basis: str) -> None:
    """All points on top of each other: every edge has length 0; output and gradients stay finite."""
    conv = nn.Convolution("2x0e + 1x1o", "2x0e + 1x1o", num_neighbors=3.0, max_radius=1.5, radial_basis=basis)
    x = torch.randn(4, 5, requires_grad=True)
    pos = torch.zeros(4, 3, requires_grad=True)
    edge_index = radius_graph(pos, 1.5)
    assert edge_index.shape[1] == 12  # every ordered pair is an edge of length 0
    out = conv(x, pos, edge_index)
    out.pow(2).sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all() and torch.isfinite(pos.grad).all()


def test_coincident_points_through_the_network(float64: None) -> None:
    net = small_net()
    x = torch.randn(5, 5)
    pos = torch.ones(5, 3).requires_grad_(True)
    out = net(x, pos)
    out.pow(2).sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(pos.grad).all()


def test_graph_without_edges_in_the_radius(float64: None) -> None:
    """Nodes farther apart than the radius: no edges; only the self term remains (zero without it)."""
    pos = torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    assert radius_graph(pos, 1.5).shape == (2, 0)
    x = torch.randn(2, 5)
    conv = nn.Convolution("2x0e + 1x1o", "2x0e + 1x1o", num_neighbors=2.0, max_radius=1.5)
    assert torch.equal(conv(x, pos, radius_graph(pos, 1.5)), torch.zeros(2, 5))
    net = small_net()
    together = net(x, pos)
    alone = torch.cat([net(x[i : i + 1], pos[i : i + 1]) for i in range(2)])
    assert torch.isfinite(together).all()
    torch.testing.assert_close(together, alone, atol=1e-12, rtol=0)


def test_single_node_and_isolated_nodes_in_a_batch(float64: None) -> None:
    net = small_net()
    x, pos = torch.randn(6, 5), torch.randn(6, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 2])  # graph 2 is a single node
    out = net(x, pos, batch)
    assert out.shape == (6, 4) and torch.isfinite(out).all()
    torch.testing.assert_close(out[5:], net(x[5:], pos[5:]), atol=1e-12, rtol=0)
    torch.testing.assert_close(out[3:5], net(x[3:5], pos[3:5]), atol=1e-12, rtol=0)


def test_huge_coordinates_are_finite_and_translation_invariant(float64: None) -> None:
    """Coordinates of 1e6: float64 gives the result of the centred cloud; float32 stays finite.

    float32 resolves 1e6 only to 0.0625, so its graph and outputs are those of the rounded positions.
    """
    net = small_net()
    x, pos = torch.randn(8, 5), torch.rand(8, 3) * 2
    far = pos + 1e6
    torch.testing.assert_close(net(x, far), net(x, pos), atol=1e-8, rtol=1e-8)
    net32 = small_net().float()
    out32 = net32(x.float(), far.float())
    assert torch.isfinite(out32).all()


def test_empty_inputs_and_empty_batches(float64: None) -> None:
    """No nodes: ``[0, dim]`` outputs from every layer; an empty list of graphs is an error."""
    assert small_net()(torch.randn(0, 5), torch.zeros(0, 3)).shape == (0, 4)
    assert radius_graph(torch.zeros(0, 3), 1.0).shape == (2, 0)
    tp = o3.FullyConnectedTensorProduct("2x0e + 1x1o", "0e + 1o", "2x0e + 1x1o")
    assert tp(torch.randn(0, 5), torch.randn(0, 4)).shape == (0, 5)
    assert o3.spherical_harmonics([0, 1, 2, 3], torch.randn(0, 3), True).shape == (0, 16)
    with pytest.raises(ValueError, match=r"empty batch: collate_graphs needs at least one Graph"):
        collate_graphs([])
    with pytest.raises(ValueError, match=r"empty batch: ptr must have shape \[B \+ 1\] with B >= 1"):
        GraphBatch(
            pos=torch.zeros(0, 3),
            x=torch.zeros(0, 5),
            batch=torch.zeros(0, dtype=torch.long),
            ptr=torch.zeros(1, dtype=torch.long),
        )
    with pytest.raises(ValueError, match=r"average_num_neighbors got no nodes"):
        nn.average_num_neighbors([], 1.0)


def test_modules_built_in_float32_move_to_float64_exactly() -> None:
    """``.double()`` works on every o3 module and gives float64-exact constants, not float32-rounded ones."""
    R = o3.rand_matrix(dtype=torch.float64)
    irreps_in, irreps_out = o3.Irreps("2x1o + 3x0e"), o3.Irreps("2x1o + 1x2e")
    D_in, D_out = irreps_in.D_from_matrix(R), irreps_out.D_from_matrix(R)
    x, y = torch.randn(6, irreps_in.dim, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    tp = o3.FullyConnectedTensorProduct(irreps_in, "1x1o", irreps_out).double()
    D_y = o3.Irreps("1x1o").D_from_matrix(R)
    assert (tp(x @ D_in.T, y @ D_y.T) - tp(x, y) @ D_out.T).abs().max() < 1e-12
    sh = o3.SphericalHarmonics(4, True).double()
    assert (sh(y @ R.T) - sh(y) @ o3.Irrep("4e").D_from_matrix(R).T).abs().max() < 1e-12
    lin = o3.Linear(irreps_in, "2x1o + 1x0e").double()
    D_lin = o3.Irreps("2x1o + 1x0e").D_from_matrix(R)
    assert (lin(x @ D_in.T) - lin(x) @ D_lin.T).abs().max() < 1e-12
    assert tp.float().kernel.cg_0.dtype == torch.float32
