"""Convolution: the seed formula (explicit loop and e3nn's tutorial code), E(3) and permutation
equivariance, average_num_neighbors, input validation."""

from __future__ import annotations

import pytest
import torch

from e3lab import o3
from e3lab.graph import radius_graph
from e3lab.math import soft_one_hot_linspace
from e3lab.nn import Convolution, average_num_neighbors

IRREPS_IN = "3x0e + 2x1o + 1x2e + 1x0o"
IRREPS_OUT = "2x0e + 2x1o + 1x1e + 1x2e + 1x3o + 1x0o"


def _graph(n: int = 10, radius: float = 1.6) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.randn(n, 3)
    return pos, radius_graph(pos, radius, max_num_neighbors=n)


def _conv(self_interaction: bool) -> Convolution:
    return Convolution(
        IRREPS_IN, IRREPS_OUT, num_neighbors=3.0, max_radius=1.6, lmax=3, self_interaction=self_interaction
    )


@pytest.mark.parametrize("self_interaction", [False, True])
def test_matches_explicit_loop(float64: None, self_interaction: bool) -> None:
    conv = _conv(self_interaction)
    pos, edge_index = _graph()
    x = o3.Irreps(IRREPS_IN).randn(len(pos), -1)
    out = conv(x, pos, edge_index)

    expected = torch.zeros(len(pos), conv.irreps_out.dim)
    neighbours = {i: [] for i in range(len(pos))}
    for j, i in edge_index.T.tolist():
        neighbours[i].append(j)
    for i in range(len(pos)):
        terms = neighbours[i] + ([i] if self_interaction else [])
        for j in terms:
            x_ij = pos[i] - pos[j]
            y = o3.spherical_harmonics(conv.irreps_sh, x_ij, normalize=True, normalization="component")
            emb = soft_one_hot_linspace(x_ij.norm(), 0.0, 1.6, 10, basis="smooth_finite", cutoff=True)
            h = conv.fc(emb * 10**0.5)
            expected[i] += conv.tp(x[j][None], y[None], h[None])[0]
    expected /= 3.0**0.5
    assert edge_index.shape[1] > 0
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)


def test_matches_e3nn_tutorial_code(float64: None, copy_e3nn_constants) -> None:
    """The convolution guide's code, written with e3nn 0.6.0, gives the same output with equal MLP weights."""
    e3nn_o3 = pytest.importorskip("e3nn.o3")
    e3nn_nn = pytest.importorskip("e3nn.nn")
    e3nn_math = pytest.importorskip("e3nn.math")
    irreps_in, irreps_out = "10x0e + 10x1e", "20x0e + 10x1e"
    conv = Convolution(irreps_in, irreps_out, num_neighbors=7.0, max_radius=1.8)
    tp = e3nn_o3.FullyConnectedTensorProduct(irreps_in, "0e + 1o + 2e", irreps_out, shared_weights=False)
    fc = e3nn_nn.FullyConnectedNet([10, 16, tp.weight_numel], torch.relu)
    fc.load_state_dict(conv.fc.state_dict())
    copy_e3nn_constants(conv, fc)
    pos, edge_index = _graph(30, 1.8)
    f_in = torch.randn(30, 40)

    edge_src, edge_dst = edge_index
    edge_vec = pos[edge_dst] - pos[edge_src]
    sh = e3nn_o3.spherical_harmonics("0e + 1o + 2e", edge_vec, normalize=True, normalization="component")
    emb = e3nn_math.soft_one_hot_linspace(
        edge_vec.norm(dim=1), 0.0, 1.8, 10, basis="smooth_finite", cutoff=True
    ).mul(10**0.5)
    summand = tp(f_in[edge_src], sh, fc(emb))
    f_out = torch.zeros(30, tp.irreps_out.dim).index_add(0, edge_dst, summand).div(7.0**0.5)

    torch.testing.assert_close(conv(f_in, pos, edge_index), f_out, rtol=0, atol=1e-10)


@pytest.mark.parametrize("self_interaction", [False, True])
def test_equivariance(float64: None, self_interaction: bool) -> None:
    conv = _conv(self_interaction)
    pos, edge_index = _graph(12)
    x = o3.Irreps(IRREPS_IN).randn(len(pos), -1)
    out = conv(x, pos, edge_index)
    irreps_in, irreps_out = o3.Irreps(IRREPS_IN), o3.Irreps(IRREPS_OUT)

    # rotation, rotation with inversion, and pure inversion
    for R in (o3.rand_matrix(), -o3.rand_matrix(), -torch.eye(3)):
        D_in, D_out = irreps_in.D_from_matrix(R), irreps_out.D_from_matrix(R)
        err = (conv(x @ D_in.T, pos @ R.T, edge_index) - out @ D_out.T).abs().max().item()
        assert err < 1e-10, err
    # translation
    err = (conv(x, pos + torch.randn(3) * 5, edge_index) - out).abs().max().item()
    assert err < 1e-10
    # node permutation: new node k is old node perm[k]
    perm = torch.randperm(len(pos))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(pos))
    err = (conv(x[perm], pos[perm], inv[edge_index]) - out[perm]).abs().max().item()
    assert err < 1e-10


def test_self_interaction_term_uses_y0_only(float64: None) -> None:
    conv = _conv(True)
    pos, edge_index = _graph()
    pos.requires_grad_(True)
    stages = conv.stages(o3.Irreps(IRREPS_IN).randn(len(pos), -1), pos, edge_index)
    num_edges = edge_index.shape[1]
    assert stages.sh.shape[0] == num_edges + len(pos)
    self_sh = stages.sh[num_edges:]
    assert torch.equal(stages.edge_src[num_edges:], torch.arange(len(pos)))
    torch.testing.assert_close(self_sh[:, 0], torch.ones(len(pos)))  # component normalisation: Y0 = 1
    assert self_sh[:, 1:].abs().max() == 0
    stages.output.pow(2).sum().backward()
    assert torch.isfinite(pos.grad).all()


def test_second_moments_and_float32() -> None:
    torch.manual_seed(1)
    conv = Convolution("10x0e + 10x1e", "20x0e + 10x1e", num_neighbors=1.0, max_radius=1.8)
    pos, edge_index = _graph(100, 1.8)
    conv.num_neighbors = edge_index.shape[1] / 100
    stages = conv.stages(o3.Irreps("10x0e + 10x1e").randn(100, -1), pos, edge_index)
    assert stages.output.dtype == torch.float32
    for name in ("sh", "embedding", "summand", "output"):
        second = getattr(stages, name).pow(2).mean().item()
        assert 0.5 < second < 2.0, (name, second)
    assert abs(stages.weight.mean().item()) < 0.2 and 0.5 < stages.weight.std().item() < 2.0


def test_average_num_neighbors() -> None:
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [5.0, 0, 0]])
    assert average_num_neighbors([pos], 1.5) == pytest.approx(2 / 3)
    assert average_num_neighbors([pos], 1.5, self_interaction=True) == pytest.approx(5 / 3)
    two = torch.cat([pos, pos + 0.5])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    assert average_num_neighbors([(two, batch), pos], 1.5) == pytest.approx(6 / 9)
    with pytest.raises(ValueError, match="no nodes"):
        average_num_neighbors([], 1.5)
    with pytest.raises(TypeError, match=r"\.pos"):
        average_num_neighbors([3.0], 1.5)


def test_input_errors() -> None:
    conv = _conv(False)
    pos, edge_index = _graph()
    x = torch.randn(len(pos), o3.Irreps(IRREPS_IN).dim)
    with pytest.raises(ValueError, match="x must have shape"):
        conv(x[:, :-1], pos, edge_index)
    with pytest.raises(ValueError, match=r"pos must have shape \[N, 3\]"):
        conv(x, pos[:, :2], edge_index)
    with pytest.raises(ValueError, match="indices must lie in"):
        conv(x, pos, edge_index + len(pos))
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        conv(x, pos, edge_index[0])
    with pytest.raises(TypeError, match="integer"):
        conv(x, pos, edge_index.double())
    with pytest.raises(ValueError, match="bessel"):
        Convolution("0e", "0e", 1.0, 1.0, radial_basis="bessel", self_interaction=True)
    with pytest.raises(ValueError, match="cutoff"):
        Convolution("0e", "0e", 1.0, 1.0, radial_cutoff=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_neighbors"):
        Convolution("0e", "0e", 0.0, 1.0)


def test_forward_fuses_the_last_mlp_layer_with_the_same_values_and_gradients(float64: None) -> None:
    """forward hands the MLP's last layer to the TP (native CPU path); stages() keeps the explicit weights."""
    conv = Convolution("10x0e + 10x1e", "20x0e + 10x1e", num_neighbors=3.0, max_radius=1.6, radial_layers=2)
    pos, edge_index = _graph(n=30)
    pos.requires_grad_()
    x = torch.randn(30, conv.irreps_in.dim, requires_grad=True)
    params = [x, pos, *conv.fc.parameters()]
    fused = conv(x, pos, edge_index)
    explicit = conv.stages(x, pos, edge_index).output
    assert (fused - explicit).abs().max() < 1e-12
    g = torch.randn_like(fused)
    for a, b in zip(
        torch.autograd.grad(fused, params, g), torch.autograd.grad(explicit, params, g), strict=True
    ):
        assert (a - b).abs().max() < 1e-11
