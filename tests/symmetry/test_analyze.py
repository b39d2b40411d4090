"""analyze_symmetry: groups, floor, and the proposed symmetry-breaking input, verified independently."""

from __future__ import annotations

import pytest
import torch

from e3lab.o3 import Irreps, rand_matrix
from e3lab.signal import from_vectors
from e3lab.symmetry import analyze_symmetry, loss_floor, point_group, symmetry_group

LMAX = 3
IRREPS_OUT = Irreps.spherical_harmonics(LMAX, p=-1)
ONES = "1x0e"
# the symmetry-breaking tutorial's input, proportional to x^2 - y^2
X2_MINUS_Y2 = torch.tensor([0.0, 0.0, -(3**0.5) / 2, 0.0, -0.5], dtype=torch.float64)
TETRAHEDRON = torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64)


def square() -> torch.Tensor:
    return torch.tensor([[0.5, 0.5, 0.0], [-0.5, 0.5, 0.0], [-0.5, -0.5, 0.0], [0.5, -0.5, 0.0]])


def rectangle() -> torch.Tensor:
    return square() * torch.tensor([0.5, 1.5, 0.0])


def displacement_task(
    start: torch.Tensor, end: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions, scalar inputs and the displacement signals ``[N, IRREPS_OUT.dim]``."""
    return start, torch.ones(len(start), 1), from_vectors((end - start)[:, None, :], LMAX)


def with_feature(x: torch.Tensor, proposal) -> torch.Tensor:
    value = proposal.value if proposal.kind == "per-node" else proposal.value.expand(len(x), -1)
    return torch.cat([x, value.to(x.dtype)], dim=1)


def test_square_to_rectangle_proposes_the_tutorials_l2_input(float64: None) -> None:
    pos, x, target = displacement_task(square(), rectangle())
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    assert (report.input_group.name, report.input_group.order) == ("D4h", 16)
    assert (report.target_group.name, report.target_group.order) == ("D2h", 8)
    assert not report.reachable
    assert report.floor == pytest.approx(loss_floor(pos, x, target, ONES, IRREPS_OUT), rel=1e-12)
    assert report.floor > 0.1 * report.zero_output_loss

    proposal = report.proposal
    assert proposal.kind == "global" and str(proposal.irreps) == "1x2e"
    assert [(p.kind, str(p.irrep)) for p in report.proposals if p.kind == "global"] == [("global", "2e")]
    # the only D2h-invariant l=2 direction the square lacks: +-(x^2 - y^2), at the requested norm 0.1
    assert proposal.value.norm() == pytest.approx(0.1)
    assert abs(float(proposal.value @ X2_MINUS_Y2)) == pytest.approx(0.1, rel=1e-9)
    # verified independently: the input with the feature has the rectangle's group and floor 0
    x_new = with_feature(x, proposal)
    assert point_group(symmetry_group(pos, x_new, "1x0e + 1x2e")).name == "D2h"
    assert loss_floor(pos, x_new, target, "1x0e + 1x2e", IRREPS_OUT) < 1e-20
    assert proposal.floor < 1e-20 and proposal.reaches_target and proposal.group.name == "D2h"
    # per node, the target's own l=1 part (the displacement) already breaks the square's symmetry
    per_node = [p for p in report.proposals if p.kind == "per-node"]
    assert per_node and all(p.irrep.l == 1 for p in per_node)
    for p in per_node:
        assert loss_floor(pos, with_feature(x, p), target, Irreps(ONES) + p.irreps, IRREPS_OUT) < 1e-20
    assert "D4h -> D2h" in str(report) and "global 2e" in str(report)


@pytest.mark.parametrize(
    ("scale", "target_group", "irrep"),
    [((1.0, 1.0, 1.5), "D2d", "2e"), ((1.0, 1.5, 1.0), "D2d", "2e")],
    ids=["stretched_z", "stretched_y"],
)
def test_tetrahedron_stretched_along_an_axis(float64: None, scale, target_group: str, irrep: str) -> None:
    """Td -> D2d: the tetrahedron has no invariant l=2 harmonic, its stretched form has 3z^2 - r^2."""
    pos, x, target = displacement_task(TETRAHEDRON, TETRAHEDRON * torch.tensor(scale))
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    assert (report.input_group.name, report.target_group.name) == ("Td", target_group)
    proposal = report.proposal
    assert (proposal.kind, str(proposal.irrep)) == ("global", irrep)
    assert loss_floor(pos, with_feature(x, proposal), target, "1x0e + 1x2e", IRREPS_OUT) < 1e-20
    assert proposal.group.name == target_group


def test_tetrahedron_with_one_vertex_pushed_out(float64: None) -> None:
    """Td -> C3v: a global vector along the moved vertex, or a per-node scalar marking it."""
    end = TETRAHEDRON.clone()
    end[0] *= 1.3
    pos, x, target = displacement_task(TETRAHEDRON, end)
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    assert (report.input_group.name, report.target_group.name) == ("Td", "C3v")
    globals_ = [p for p in report.proposals if p.kind == "global"]
    assert [str(p.irrep) for p in globals_] == ["1o"]
    direction = globals_[0].value / globals_[0].value.norm()
    assert abs(float(direction @ TETRAHEDRON[0])) == pytest.approx(3**0.5)  # along vertex 0 (l=1 is x, y, z)
    per_node = [p for p in report.proposals if p.kind == "per-node"]
    assert [str(p.irrep) for p in per_node] == ["0e"]
    marked = per_node[0].value[:, 0]
    assert (marked[1:] - marked[1]).abs().max() < 1e-12 and abs(marked[0] - marked[1]) > 1e-3
    for p in report.proposals:
        assert p.floor < 1e-20 and p.group.name == "C3v"


def test_input_without_symmetry_has_nothing_to_propose(float64: None) -> None:
    pos = torch.tensor([[0.0, 0, 0], [1, 0.1, 0], [0.3, 1.2, 0], [0.2, 0.4, 0.9]])
    _, x, target = displacement_task(pos, pos * 1.7)
    target = target + torch.randn_like(target)
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    assert report.input_group.name == "C1" and report.reachable
    assert report.proposals == () and report.proposal is None
    assert report.floor < 1e-25
    assert "no symmetry" in report.message and "nothing to propose" in report.message


def test_reachable_target_has_nothing_to_propose(float64: None) -> None:
    pos, x, target = displacement_task(rectangle(), square())
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    assert (report.input_group.name, report.target_group.name) == ("D2h", "D2h")
    assert report.reachable and report.proposals == ()
    assert report.floor < 1e-25
    assert "reachable" in report.message and "nothing to propose" in report.message


def test_graph_level_target(float64: None) -> None:
    """A vector target along x for the whole square: D4h -> C2v, broken by a global vector along x."""
    target = torch.tensor([1.0, 0.0, 0.0])
    report = analyze_symmetry(square(), torch.ones(4, 1), ONES, target, "1x1o")
    assert (report.input_group.name, report.target_group.name) == ("D4h", "C2v")
    assert report.floor == pytest.approx(1 / 3)  # no D4h-invariant vector: the output must be 0
    proposal = report.proposal
    assert (proposal.kind, str(proposal.irrep)) == ("global", "1o")
    assert torch.allclose(proposal.value, torch.tensor([0.1, 0.0, 0.0]), atol=1e-12)


def test_report_is_equivariant(float64: None) -> None:
    """Rotating, mirroring and relabelling the whole task rotates the proposed (target-built) value."""
    pos, x, target = displacement_task(square(), rectangle())
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT)
    R = -rand_matrix(dtype=torch.float64)
    perm = torch.tensor([2, 0, 3, 1])
    moved = analyze_symmetry(
        (pos @ R.T)[perm] + 0.7, x, ONES, (target @ IRREPS_OUT.D_from_matrix(R).T)[perm], IRREPS_OUT
    )
    assert (moved.input_group.name, moved.target_group.name) == ("D4h", "D2h")
    assert moved.floor == pytest.approx(report.floor, rel=1e-9)
    expected = Irreps("2e").D_from_matrix(R) @ report.proposal.value
    assert torch.allclose(moved.proposal.value, expected, atol=1e-10)


def test_lmax_too_low_says_so(float64: None) -> None:
    pos, x, target = displacement_task(square(), rectangle())
    report = analyze_symmetry(pos, x, ONES, target, IRREPS_OUT, lmax=0)
    assert report.proposals == () and not report.reachable
    assert "raise lmax" in report.message


def test_bad_input(float64: None) -> None:
    pos, x, target = displacement_task(square(), rectangle())
    with pytest.raises(ValueError, match=r"target must be \[N, irreps_out.dim\]"):
        analyze_symmetry(pos, x, ONES, target[:, :4], IRREPS_OUT)
    with pytest.raises(ValueError, match="value_norm"):
        analyze_symmetry(pos, x, ONES, target, IRREPS_OUT, value_norm=0.0)
    with pytest.raises(ValueError, match="collinear"):
        analyze_symmetry(pos * torch.tensor([1.0, 0, 0]), x, ONES, target, IRREPS_OUT)
