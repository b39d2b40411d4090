"""The symmetry group of the shape tasks and the loss floor it imposes."""

from __future__ import annotations

import pytest
import torch

from e3lab.o3 import Irreps, rand_matrix
from e3lab.signal import from_vectors
from e3lab.symmetry import loss_floor, project_invariant, symmetry_group

LMAX = 5
# the tutorial's breaker: x^2 - y^2 = -Y2[2]/sqrt5 - Y2[4]/sqrt15, norm 0.1
X2_MINUS_Y2 = (0.0, 0.0, -0.1 * 3**0.5 / 2, 0.0, -0.05)


def square() -> torch.Tensor:
    corners = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    return corners - corners.mean(dim=0)


def rectangle() -> torch.Tensor:
    return square() * torch.tensor([0.5, 1.5, 0.0])


IRREPS_OUT = Irreps.spherical_harmonics(LMAX, p=-1)


def _task(start: torch.Tensor, end: torch.Tensor, breaker: bool) -> tuple[torch.Tensor, ...]:
    x = torch.ones(4, 1)
    irreps_in = Irreps("1x0e")
    if breaker:
        x = torch.cat([x, torch.tensor(X2_MINUS_Y2).expand(4, -1)], dim=1)
        irreps_in = Irreps("1x0e + 1x2e")
    target = from_vectors((end - start)[:, None, :], LMAX)
    return start, x, target, irreps_in


def test_group_orders(float64: None) -> None:
    """The square has the 16 elements of D4h, the rectangle and the broken square the 8 of D2h."""
    ones = torch.ones(4, 1)
    assert len(symmetry_group(square(), ones, "1x0e")) == 16
    assert len(symmetry_group(rectangle(), ones, "1x0e")) == 8
    pos, x, _, irreps_in = _task(square(), rectangle(), breaker=True)
    group = symmetry_group(pos, x, irreps_in)
    assert len(group) == 8
    assert torch.equal(group[0].matrix, torch.eye(3))
    for g in group:
        assert torch.allclose(pos @ g.matrix.T, pos[g.perm], atol=1e-12)


@pytest.mark.parametrize(
    ("start", "end", "breaker", "zero"),
    [
        ("rectangle", "square", False, True),
        ("square", "rectangle", True, True),
        ("square", "rectangle", False, False),
    ],
    ids=["rect_to_square", "square_to_rect_broken", "square_to_rect"],
)
def test_floor(float64: None, start: str, end: str, breaker: bool, zero: bool) -> None:
    """Zero where the target respects the input's symmetry, well above zero for square_to_rect."""
    shapes = {"square": square(), "rectangle": rectangle()}
    pos, x, target, irreps_in = _task(shapes[start], shapes[end], breaker)
    floor = loss_floor(pos, x, target, irreps_in, IRREPS_OUT)
    zero_output_loss = float(target.pow(2).mean())
    if zero:
        assert floor < 1e-20
    else:
        assert 0.1 * zero_output_loss < floor < zero_output_loss


def test_projection_is_equivariant(float64: None) -> None:
    """The projection of the transformed task (rotation, inversion, permutation) is the transformed one."""
    pos, x, target, irreps_in = _task(square(), rectangle(), breaker=True)
    target = target + torch.randn_like(target)  # a generic target, not already invariant
    projected = project_invariant(target, symmetry_group(pos, x, irreps_in), IRREPS_OUT)
    R = -rand_matrix()
    perm = torch.randperm(4)
    pos2 = (pos @ R.T)[perm]
    x2 = (x @ irreps_in.D_from_matrix(R).T)[perm]
    target2 = (target @ IRREPS_OUT.D_from_matrix(R).T)[perm]
    group2 = symmetry_group(pos2 + torch.tensor([0.3, -1.0, 2.0]), x2, irreps_in)
    projected2 = project_invariant(target2, group2, IRREPS_OUT)
    expected = (projected @ IRREPS_OUT.D_from_matrix(R).T)[perm]
    assert (projected2 - expected).abs().max() < 1e-10


def test_projection_is_idempotent(float64: None) -> None:
    pos, x, target, irreps_in = _task(square(), rectangle(), breaker=False)
    group = symmetry_group(pos, x, irreps_in)
    once = project_invariant(target, group, IRREPS_OUT)
    assert (project_invariant(once, group, IRREPS_OUT) - once).abs().max() < 1e-12


def test_features_restrict_the_group(float64: None) -> None:
    """A feature that differs on one node removes the symmetries that move that node."""
    x = torch.ones(4, 1)
    x[0] = 2.0
    group = symmetry_group(square(), x, "1x0e")
    assert len(group) == 4  # identity, z mirror, the diagonal mirror through node 0, and their product
    assert all(int(g.perm[0]) == 0 for g in group)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="collinear"):
        symmetry_group(torch.tensor([[0.0, 0, 0], [0, 0, 1], [0, 0, 2]]), torch.ones(3, 1), "1x0e")
    with pytest.raises(ValueError, match=r"irreps_in\.dim"):
        symmetry_group(square(), torch.ones(4, 2), "1x0e")
    with pytest.raises(ValueError, match="irreps_out"):
        project_invariant(torch.ones(4, 3), symmetry_group(square(), torch.ones(4, 1), "1x0e"), "1x0e")
