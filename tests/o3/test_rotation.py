"""Rotation parametrisations: round trips, group laws, and agreement with e3nn on the same inputs."""

from __future__ import annotations

import math

import e3nn.o3
import pytest
import torch

from e3lab import o3

TOL = {"atol": 1e-10, "rtol": 0}


def test_rand_matrix_is_a_rotation_and_haar_like(float64: None) -> None:
    R = o3.rand_matrix(4000)
    assert R.shape == (4000, 3, 3)
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3).expand_as(R), **TOL)
    torch.testing.assert_close(torch.det(R), torch.ones(4000), **TOL)
    # Haar: the image of any fixed vector is uniform on the sphere, so its mean is ~0 and E[x_i^2] = 1/3
    v = R[:, :, 0]
    assert v.mean(0).abs().max() < 0.05
    assert (v.pow(2).mean(0) - 1 / 3).abs().max() < 0.03
    assert o3.rand_matrix(2, 3, requires_grad=True, dtype=torch.float32).requires_grad
    assert o3.rand_matrix(2, dtype=torch.float32).dtype == torch.float32


def test_identities_and_shapes() -> None:
    a, b, c = o3.identity_angles(2, 3)
    assert a.shape == (2, 3) and not a.requires_grad and (a == 0).all() and (b == 0).all() and (c == 0).all()
    q = o3.identity_quaternion(5, requires_grad=True)
    assert q.shape == (5, 4) and q.requires_grad
    torch.testing.assert_close(o3.quaternion_to_matrix(q.detach()), torch.eye(3).expand(5, 3, 3))
    axis, angle = o3.rand_axis_angle(7)
    assert axis.shape == (7, 3) and angle.shape == (7,)
    assert ((angle >= 0) & (angle <= math.pi)).all()
    assert o3.rand_quaternion(3).shape == (3, 4)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(o3.matrix_x, e3nn.o3.matrix_x), (o3.matrix_y, e3nn.o3.matrix_y), (o3.matrix_z, e3nn.o3.matrix_z)],
)
def test_axis_matrices_match_e3nn(float64: None, ours, theirs) -> None:
    angle = torch.randn(5) * 4
    torch.testing.assert_close(ours(angle), theirs(angle), **TOL)


def test_conversions_match_e3nn_on_the_same_inputs(float64: None) -> None:
    a, b, c = e3nn.o3.rand_angles(50)
    R = e3nn.o3.angles_to_matrix(a, b, c)
    q = e3nn.o3.angles_to_quaternion(a, b, c)
    axis, angle = e3nn.o3.angles_to_axis_angle(a, b, c)
    xyz = torch.randn(50, 3)
    pairs = [
        (o3.angles_to_matrix(a, b, c), R),
        (o3.matrix_to_angles(R), e3nn.o3.matrix_to_angles(R)),
        (o3.angles_to_quaternion(a, b, c), q),
        (o3.matrix_to_quaternion(R), e3nn.o3.matrix_to_quaternion(R)),
        (o3.axis_angle_to_quaternion(axis, angle), e3nn.o3.axis_angle_to_quaternion(axis, angle)),
        (o3.quaternion_to_axis_angle(q), e3nn.o3.quaternion_to_axis_angle(q)),
        (o3.matrix_to_axis_angle(R), e3nn.o3.matrix_to_axis_angle(R)),
        (o3.angles_to_axis_angle(a, b, c), (axis, angle)),
        (o3.axis_angle_to_matrix(axis, angle), e3nn.o3.axis_angle_to_matrix(axis, angle)),
        (o3.quaternion_to_matrix(q), e3nn.o3.quaternion_to_matrix(q)),
        (o3.quaternion_to_angles(q), e3nn.o3.quaternion_to_angles(q)),
        (o3.axis_angle_to_angles(axis, angle), e3nn.o3.axis_angle_to_angles(axis, angle)),
        (o3.angles_to_xyz(a, b), e3nn.o3.angles_to_xyz(a, b)),
        (o3.xyz_to_angles(xyz), e3nn.o3.xyz_to_angles(xyz)),
        (o3.compose_quaternion(q, q.flip(0)), e3nn.o3.compose_quaternion(q, q.flip(0))),
        (o3.inverse_quaternion(q), e3nn.o3.inverse_quaternion(q)),
        (o3.compose_angles(a, b, c, c, a, b), e3nn.o3.compose_angles(a, b, c, c, a, b)),
        (o3.inverse_angles(a, b, c), e3nn.o3.inverse_angles(a, b, c)),
        (
            o3.compose_axis_angle(axis, angle, axis.flip(0), angle.flip(0)),
            e3nn.o3.compose_axis_angle(axis, angle, axis.flip(0), angle.flip(0)),
        ),
    ]
    for ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, **TOL)


def test_round_trips(float64: None) -> None:
    R = o3.rand_matrix(50)
    angles = o3.matrix_to_angles(R)
    torch.testing.assert_close(o3.angles_to_matrix(*angles), R, **TOL)
    torch.testing.assert_close(o3.quaternion_to_matrix(o3.matrix_to_quaternion(R)), R, **TOL)
    torch.testing.assert_close(o3.axis_angle_to_matrix(*o3.matrix_to_axis_angle(R)), R, **TOL)
    torch.testing.assert_close(
        o3.angles_to_matrix(*o3.quaternion_to_angles(o3.angles_to_quaternion(*angles))), R, **TOL
    )
    torch.testing.assert_close(
        o3.angles_to_matrix(*o3.axis_angle_to_angles(*o3.angles_to_axis_angle(*angles))), R, **TOL
    )
    q = o3.rand_quaternion(50)
    torch.testing.assert_close(o3.axis_angle_to_quaternion(*o3.quaternion_to_axis_angle(q)), q, **TOL)
    x = torch.nn.functional.normalize(torch.randn(50, 3), dim=-1)
    torch.testing.assert_close(o3.angles_to_xyz(*o3.xyz_to_angles(x)), x, **TOL)


def test_group_laws(float64: None) -> None:
    a1, a2 = o3.rand_angles(20), o3.rand_angles(20)
    R1, R2 = o3.angles_to_matrix(*a1), o3.angles_to_matrix(*a2)
    torch.testing.assert_close(o3.angles_to_matrix(*o3.compose_angles(*a1, *a2)), R1 @ R2, **TOL)
    torch.testing.assert_close(o3.angles_to_matrix(*o3.inverse_angles(*a1)), R1.transpose(-1, -2), **TOL)
    q1, q2 = o3.angles_to_quaternion(*a1), o3.angles_to_quaternion(*a2)
    torch.testing.assert_close(o3.quaternion_to_matrix(o3.compose_quaternion(q1, q2)), R1 @ R2, **TOL)
    torch.testing.assert_close(
        o3.quaternion_to_matrix(o3.inverse_quaternion(q1)), R1.transpose(-1, -2), **TOL
    )
    aa1, aa2 = o3.angles_to_axis_angle(*a1), o3.angles_to_axis_angle(*a2)
    torch.testing.assert_close(o3.axis_angle_to_matrix(*o3.compose_axis_angle(*aa1, *aa2)), R1 @ R2, **TOL)


def test_conventions(float64: None) -> None:
    t = torch.tensor(0.3)
    torch.testing.assert_close(o3.angles_to_matrix(t, t * 0, t * 0), o3.matrix_y(t))
    torch.testing.assert_close(o3.angles_to_matrix(t * 0, t, t * 0), o3.matrix_x(t))
    torch.testing.assert_close(
        o3.matrix_z(t) @ torch.tensor([1.0, 0, 0]), torch.stack([t.cos(), t.sin(), 0 * t])
    )
    # the polar axis is y, and the zero vector gives finite angles
    torch.testing.assert_close(o3.angles_to_xyz(t, torch.tensor(0.0)), torch.tensor([0.0, 1.0, 0.0]))
    assert all(torch.isfinite(v).all() for v in o3.xyz_to_angles(torch.zeros(3)))
