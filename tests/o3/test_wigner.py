"""Wigner D matrices and Wigner 3j symbols: agreement with e3nn, group laws, invariance."""

from __future__ import annotations

import itertools

import e3nn.o3
import pytest
import torch

from e3lab.o3 import (
    Irrep,
    Irreps,
    angles_to_matrix,
    change_basis_real_to_complex,
    compose_angles,
    rand_angles,
    rand_matrix,
    so3_generators,
    su2_generators,
    wigner_3j,
    wigner_D,
)

LMAX_3J = 6


@pytest.mark.parametrize("l", range(9))
def test_wigner_D_matches_e3nn(float64: None, l: int) -> None:
    alpha, beta, gamma = rand_angles(7)
    alpha = alpha * 3 - 5  # angles outside [0, 2pi) too
    torch.testing.assert_close(
        wigner_D(l, alpha, beta, gamma), e3nn.o3.wigner_D(l, alpha, beta, gamma), atol=1e-10, rtol=0
    )


@pytest.mark.parametrize("l", range(6))
def test_generators_and_basis_match_e3nn(float64: None, l: int) -> None:
    torch.testing.assert_close(su2_generators(l), e3nn.o3.su2_generators(l), atol=1e-12, rtol=0)
    torch.testing.assert_close(so3_generators(l), e3nn.o3.so3_generators(l), atol=1e-12, rtol=0)
    Q = change_basis_real_to_complex(l)
    torch.testing.assert_close(Q, e3nn.o3.change_basis_real_to_complex(l), atol=1e-12, rtol=0)
    torch.testing.assert_close(Q @ Q.conj().T, torch.eye(2 * l + 1, dtype=Q.dtype))


def test_wigner_D_of_l1_is_the_rotation_matrix(float64: None) -> None:
    angles = rand_angles(10)
    torch.testing.assert_close(wigner_D(1, *angles), angles_to_matrix(*angles), atol=1e-14, rtol=0)


@pytest.mark.parametrize("l", [0, 1, 2, 5, 11])
def test_wigner_D_is_an_orthogonal_representation(float64: None, l: int) -> None:
    a1 = rand_angles(5)
    a2 = rand_angles(5)
    D1, D2 = wigner_D(l, *a1), wigner_D(l, *a2)
    torch.testing.assert_close(D1 @ D2, wigner_D(l, *compose_angles(*a1, *a2)), atol=1e-10, rtol=0)
    torch.testing.assert_close(D1 @ D1.transpose(-1, -2), torch.eye(2 * l + 1).expand(5, -1, -1))
    zero = torch.zeros(())
    torch.testing.assert_close(wigner_D(l, zero, zero, zero), torch.eye(2 * l + 1), atol=1e-14, rtol=0)


def test_wigner_D_broadcasts_and_keeps_dtype() -> None:
    alpha = torch.zeros(4, 1)
    D = wigner_D(2, alpha, torch.zeros(3), torch.zeros(()))
    assert D.shape == (4, 3, 5, 5) and D.dtype == torch.float32
    with pytest.raises(ValueError, match="l >= 0"):
        wigner_D(-1, alpha, alpha, alpha)


def test_irreps_D_from_matrix_is_a_homomorphism_with_inversion(float64: None) -> None:
    irreps = Irreps("0e + 0o + 1o + 1e + 2e + 2o + 3o")
    R1, R2 = rand_matrix(4), rand_matrix(4)
    R1[::2] = -R1[::2]
    R2[:2] = -R2[:2]
    torch.testing.assert_close(
        irreps.D_from_matrix(R1) @ irreps.D_from_matrix(R2), irreps.D_from_matrix(R1 @ R2), atol=1e-10, rtol=0
    )
    reference = e3nn.o3.Irreps(str(irreps))
    torch.testing.assert_close(irreps.D_from_matrix(R1), reference.D_from_matrix(R1), atol=1e-10, rtol=0)


def _triples(lmax: int) -> list[tuple[int, int, int]]:
    return [
        (l1, l2, l3)
        for l1, l2 in itertools.product(range(lmax + 1), repeat=2)
        for l3 in range(abs(l1 - l2), min(lmax, l1 + l2) + 1)
    ]


def test_wigner_3j_matches_e3nn_for_every_triple_up_to_6() -> None:
    worst = 0.0
    for l1, l2, l3 in _triples(LMAX_3J):
        ours = wigner_3j(l1, l2, l3, dtype=torch.float64)
        reference = e3nn.o3.wigner_3j(l1, l2, l3, dtype=torch.float64)
        assert ours.shape == (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
        worst = max(worst, (ours - reference).abs().max().item())
    assert worst < 1e-10


@pytest.mark.parametrize(
    "ls", [(1, 1, 0), (1, 2, 3), (2, 2, 2), (3, 5, 4), (11, 11, 11), (11, 4, 8), (0, 11, 11)]
)
def test_wigner_3j_is_invariant_with_unit_norm(float64: None, ls: tuple[int, int, int]) -> None:
    C = wigner_3j(*ls)
    assert abs(C.norm().item() - 1) < 1e-12
    R = rand_matrix(2)
    R[1] = -R[1]
    l1, l2, _ = ls
    parities = [(-1) ** l1, (-1) ** l2, (-1) ** (l1 + l2)]  # the output parity is p1 p2
    D1, D2, D3 = (Irrep(l, p).D_from_matrix(R) for l, p in zip(ls, parities, strict=True))
    rotated = torch.einsum("ijk,nil,njm,nko->nlmo", C, D1, D2, D3)
    torch.testing.assert_close(rotated, C.expand_as(rotated), atol=1e-10, rtol=0)


def test_wigner_3j_known_values_and_symmetries(float64: None) -> None:
    torch.testing.assert_close(wigner_3j(1, 1, 0)[..., 0], torch.eye(3) / 3**0.5)
    epsilon = torch.zeros(3, 3, 3)
    for (i, j, k), sign in [((0, 1, 2), 1), ((1, 2, 0), 1), ((2, 0, 1), 1), ((0, 2, 1), -1), ((2, 1, 0), -1)]:
        epsilon[i, j, k] = sign
    epsilon[1, 0, 2] = -1
    torch.testing.assert_close(wigner_3j(1, 1, 1), epsilon / 6**0.5)
    torch.testing.assert_close(wigner_3j(0, 4, 4)[0], torch.eye(9) / 3.0)
    # an odd permutation of (l1, l2, l3) transposes C up to the sign (-1)^(l1 + l2 + l3), as in e3nn
    torch.testing.assert_close(wigner_3j(2, 3, 4), -wigner_3j(3, 2, 4).transpose(0, 1))
    torch.testing.assert_close(wigner_3j(2, 3, 4), -wigner_3j(4, 3, 2).permute(2, 1, 0))
    torch.testing.assert_close(wigner_3j(2, 3, 5), wigner_3j(3, 2, 5).transpose(0, 1))
    torch.testing.assert_close(wigner_3j(2, 3, 4), wigner_3j(3, 4, 2).permute(2, 0, 1))


def test_wigner_3j_dtype_copy_and_errors() -> None:
    C = wigner_3j(1, 2, 3)
    assert C.dtype == torch.float32
    C.zero_()
    assert wigner_3j(1, 2, 3).norm() > 0.99  # the cache is not handed out
    with pytest.raises(ValueError, match="triangle"):
        wigner_3j(1, 1, 3)
    with pytest.raises(ValueError, match=">= 0"):
        wigner_3j(-1, 1, 1)
    with pytest.raises(TypeError, match="must be an int"):
        wigner_3j(1.0, 1, 1)  # type: ignore[arg-type]
