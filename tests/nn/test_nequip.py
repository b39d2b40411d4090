"""NequIPNet and the channelwise convolution: e3nn's product as the oracle, E(3) equivariance (rotations
and inversion, float64), edge_vec for periodic images, double backward, the Backbone contract, stages."""

from __future__ import annotations

import math

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from e3lab import o3
from e3lab.graph import radius_graph
from e3lab.nn import (
    STAGES,
    Backbone,
    BesselEmbedding,
    Convolution,
    EquivariantConvNet,
    NequIPNet,
    channelwise_paths,
    edge_features,
)

SPECIES = "3x0e"


def _net(**kwargs: object) -> NequIPNet:
    args = {
        "num_layers": 3,
        "num_features": 4,
        "radial_hidden": 8,
        "max_radius": 2.0,
        "avg_num_neighbors": 5.0,
    }
    return NequIPNet(SPECIES, **{**args, **kwargs})  # type: ignore[arg-type]


def _inputs(n: int = 12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pos = 1.5 * torch.randn(n, 3)
    x = torch.nn.functional.one_hot(torch.randint(0, 3, (n,)), 3).to(pos.dtype)
    return x, pos, radius_graph(pos, 2.0, max_num_neighbors=n)


def test_backbones_meet_the_contract() -> None:
    for net in (_net(), EquivariantConvNet("2x0e", "4x0e + 2x1o", "1x0e", num_layers=2, lmax=1)):
        assert isinstance(net, Backbone) and isinstance(net, torch.nn.Module)
    assert not isinstance(torch.nn.Linear(2, 2), Backbone)


def test_tutorial_defaults_and_layer_irreps() -> None:
    net = NequIPNet(SPECIES)
    assert len(net.layers) == 4 and str(net.irreps_out) == "1x0e"
    assert str(net.irreps_hidden) == "32x0e+32x0o+32x1e+32x1o"
    assert net.radial.number == 8 and net.radial.p == 6.0
    assert net.layers[0].conv.fc.hs[:3] == [8, 64, 64]
    # from 32 scalars and Y of l <= 1 only 0e and 1o are reachable; then every hidden irrep is
    assert str(net.layers[0].irreps_out) == "32x0e+32x1o"
    assert str(net.layers[2].irreps_out) == "32x0e+32x0o+32x1e+32x1o"
    assert str(NequIPNet(SPECIES, parity=False, lmax=2).irreps_hidden) == "32x0e+32x1o+32x2e"


def test_channelwise_convolution_matches_e3nn(float64: None) -> None:
    e3nn_o3 = pytest.importorskip("e3nn.o3")
    irreps_in = o3.Irreps("3x0e + 2x1o + 2x1e")
    conv = Convolution(
        irreps_in,
        "0e + 0o + 1o + 1e + 2e",
        num_neighbors=4.0,
        max_radius=2.0,
        lmax=2,
        connection="channelwise",
    )
    irreps_mid, instructions = channelwise_paths(
        irreps_in, conv.irreps_sh, o3.Irreps("0e + 0o + 1o + 1e + 2e")
    )
    assert conv.irreps_out == irreps_mid and all(ins[3] == "uvu" for ins in instructions)
    tp = e3nn_o3.TensorProduct(
        irreps_in, "0e + 1o + 2e", irreps_mid, instructions, shared_weights=False, internal_weights=False
    )
    x, pos = irreps_in.randn(10, -1), torch.randn(10, 3)
    edge_index = radius_graph(pos, 2.0, max_num_neighbors=10)
    edges = conv.edge_features(pos, edge_index)
    summand = tp(x[edges.src], edges.sh, conv.fc(edges.embedding))
    expected = torch.zeros(10, irreps_mid.dim).index_add(0, edges.dst, summand) / 2.0
    assert edge_index.shape[1] > 0
    torch.testing.assert_close(conv(x, pos, edge_index), expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(conv.stages(x, pos, edge_index).output, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("parity", [True, False])
def test_equivariance_rotation_and_inversion(float64: None, parity: bool) -> None:
    net = _net(irreps_out="1x0e + 1x1o", parity=parity)
    x, pos, edge_index = _inputs()
    for R in (o3.rand_matrix(), -o3.rand_matrix()):
        D = net.irreps_out.D_from_matrix(R)
        torch.testing.assert_close(net(x, pos @ R.T), net(x, pos) @ D.T, rtol=0, atol=1e-10)
        shifted = pos[edge_index[1]] - pos[edge_index[0]] + torch.randn(3)  # any edge vectors rotate too
        out = net(x, pos, edge_index=edge_index, edge_vec=shifted)
        turned = net(x, pos @ R.T, edge_index=edge_index, edge_vec=shifted @ R.T)
        torch.testing.assert_close(turned, out @ D.T, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "make", [_net, lambda: EquivariantConvNet("3x0e", "4x0e + 2x1o", "1x0e", max_radius=2.0)]
)
def test_edge_vec_replaces_the_position_difference(float64: None, make) -> None:
    net = make()
    x, pos, edge_index = _inputs()
    vec = pos[edge_index[1]] - pos[edge_index[0]]
    torch.testing.assert_close(
        net(x, pos, edge_index=edge_index, edge_vec=vec), net(x, pos), rtol=0, atol=1e-12
    )
    moved = vec.clone()
    moved[0] += torch.tensor([0.3, -0.2, 0.1])  # a periodic image elsewhere: only this vector changes
    assert not torch.allclose(net(x, pos, edge_index=edge_index, edge_vec=moved), net(x, pos))
    with pytest.raises(ValueError, match="edge_vec was given without edge_index"):
        net(x, pos, edge_vec=vec)
    with pytest.raises(ValueError, match="edge_vec must be a"):
        net(x, pos, edge_index=edge_index, edge_vec=vec[1:])


def test_double_backward_through_positions(float64: None) -> None:
    """Force training differentiates -dE/dpos again: gradgradcheck of the energy through the whole net."""
    net = _net(num_layers=2, num_features=2, radial_hidden=4)
    x, pos, edge_index = _inputs(6)
    pos.requires_grad_(True)

    def energy(p: torch.Tensor) -> torch.Tensor:
        return net(x, p, edge_index=edge_index).sum()

    assert torch.autograd.gradcheck(energy, (pos,))
    assert torch.autograd.gradgradcheck(energy, (pos,))


def test_species_enter_the_self_connection(float64: None) -> None:
    net = _net(num_layers=1)
    x, pos, edge_index = _inputs()
    other = x.roll(1, dims=1)  # same graph, other species
    assert not torch.allclose(net(x, pos, edge_index=edge_index), net(other, pos, edge_index=edge_index))


def test_harmonics_and_radial_embedding_once_per_forward() -> None:
    net = _net()
    x, pos, edge_index = _inputs()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        net(x, pos.requires_grad_(True), edge_index=edge_index).sum().backward()
    names = [e.name for e in prof.events()]
    assert names.count("spherical_harmonics") == names.count("radial_embedding") == 1
    assert names.count("tensor_product") == names.count("gate") == len(net.layers)
    assert {"radial_mlp", "tensor_product", "gate"} <= set(names) <= set(names) | set(STAGES)


def test_bessel_embedding(float64: None) -> None:
    emb = BesselEmbedding(4.0, number=3, p=6, trainable=False)
    r = torch.tensor([0.5, 2.0, 4.0, 5.0])
    n = torch.arange(1, 4, dtype=r.dtype)
    u = 1 - 28 * (r / 4) ** 6 + 48 * (r / 4) ** 7 - 21 * (r / 4) ** 8
    expected = (2 / 4.0) * torch.sin(n * math.pi * r[:, None] / 4.0) / r[:, None] * u[:, None]
    expected[2:] = 0.0
    torch.testing.assert_close(emb(r), expected, rtol=0, atol=1e-12)
    assert "frequencies" not in dict(emb.named_parameters())
    assert isinstance(BesselEmbedding(4.0).frequencies, torch.nn.Parameter)


def test_shared_edge_features_equal_the_layers_own(float64: None) -> None:
    conv = Convolution("2x0e + 1x1o", "2x0e + 1x1o", num_neighbors=3.0, max_radius=2.0, self_interaction=True)
    x, pos = o3.Irreps("2x0e + 1x1o").randn(8, -1), torch.randn(8, 3)
    edge_index = radius_graph(pos, 2.0, max_num_neighbors=8)
    edges = edge_features(conv.irreps_sh, conv.radial_embedding, pos, edge_index, None, self_terms=True)
    torch.testing.assert_close(
        conv(x, pos, edge_index, edges=edges), conv(x, pos, edge_index), rtol=0, atol=1e-12
    )
    with pytest.raises(ValueError, match="edges has sh"):
        conv(x, pos, edge_index, edges=edges._replace(embedding=edges.embedding[:, :3]))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="even scalars"):
        NequIPNet("2x0e + 1x1o")
    with pytest.raises(ValueError, match=r"nonlinearity_scalars\['o'\]='relu'"):
        NequIPNet(SPECIES, nonlinearity_scalars={"e": "silu", "o": "relu"})
    with pytest.raises(ValueError, match=r"needs \['2e'\]"):
        NequIPNet(SPECIES, irreps_out="1x2e", lmax=1)
    with pytest.raises(ValueError, match="connection='dense'"):
        Convolution("1x0e", "1x0e", num_neighbors=1.0, max_radius=1.0, connection="dense")
    conv = Convolution("1x0e", "1x0e", num_neighbors=1.0, max_radius=1.0, radial_basis=None)
    with pytest.raises(ValueError, match="no radial basis of its own"):
        conv(torch.ones(2, 1), torch.randn(2, 3), torch.tensor([[0], [1]]))
