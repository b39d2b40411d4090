"""Quaternions ``(w, x, y, z)`` and axis-angle pairs, and their conversions to matrices and Euler angles.

Quaternions compose with the Hamilton product; an axis-angle pair is a unit axis ``[..., 3]`` and an
angle ``[...]`` (right-handed). Euler angles follow :func:`e3lab.o3.angles_to_matrix`.
"""

from __future__ import annotations

import torch

from e3lab.o3._rotation import (
    Angles,
    angles_to_matrix,
    matrix_to_angles,
    matrix_y,
    rand_angles,
    xyz_to_angles,
)

__all__ = [
    "angles_to_axis_angle",
    "angles_to_quaternion",
    "axis_angle_to_angles",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "compose_axis_angle",
    "compose_quaternion",
    "identity_quaternion",
    "inverse_quaternion",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_angles",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rand_axis_angle",
    "rand_quaternion",
]


def identity_quaternion(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> torch.Tensor:
    """The identity quaternion ``(1, 0, 0, 0)`` with shape ``(*shape, 4)``."""
    q = torch.zeros(*shape, 4, dtype=dtype, device=device)
    q[..., 0] = 1
    return q.requires_grad_(requires_grad)


def rand_quaternion(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> torch.Tensor:
    """Unit quaternions of Haar-random rotations, shape ``(*shape, 4)``."""
    q = angles_to_quaternion(*rand_angles(*shape, dtype=dtype, device=device))
    return q.detach().requires_grad_(requires_grad)


def rand_axis_angle(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis ``(*shape, 3)`` and angle ``(*shape)`` in ``[0, pi]`` of Haar-random rotations."""
    axis, angle = angles_to_axis_angle(*rand_angles(*shape, dtype=dtype, device=device))
    return axis.detach().requires_grad_(requires_grad), angle.detach().requires_grad_(requires_grad)


def compose_quaternion(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q1 q2`` (``q2`` applied first); ``q1, q2: [..., 4]`` -> ``[..., 4]``."""
    q1, q2 = torch.broadcast_tensors(q1, q2)
    w1, v1 = q1[..., :1], q1[..., 1:]
    w2, v2 = q2[..., :1], q2[..., 1:]
    w = w1 * w2 - (v1 * v2).sum(dim=-1, keepdim=True)
    v = w1 * v2 + w2 * v1 + torch.linalg.cross(v1, v2, dim=-1)
    return torch.cat([w, v], dim=-1)


def inverse_quaternion(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion (its conjugate); ``q: [..., 4]``."""
    return torch.cat([q[..., :1], -q[..., 1:]], dim=-1)


def compose_axis_angle(
    axis1: torch.Tensor, angle1: torch.Tensor, axis2: torch.Tensor, angle2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis-angle of the rotation ``(axis1, angle1)`` applied after ``(axis2, angle2)``."""
    q = compose_quaternion(axis_angle_to_quaternion(axis1, angle1), axis_angle_to_quaternion(axis2, angle2))
    return quaternion_to_axis_angle(q)


def axis_angle_to_quaternion(xyz: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """``(cos(angle/2), sin(angle/2) axis)``; ``xyz: [..., 3]`` (normalised here), ``angle: [...]``."""
    xyz, angle = torch.broadcast_tensors(xyz, angle[..., None])
    axis = torch.nn.functional.normalize(xyz, dim=-1)
    half = angle[..., :1] / 2
    return torch.cat([half.cos(), axis * half.sin()], dim=-1)


def quaternion_to_axis_angle(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis ``[..., 3]`` and angle ``[...]`` of unit quaternions ``q: [..., 4]``."""
    angle = 2 * torch.acos(q[..., 0].clamp(-1, 1))
    return torch.nn.functional.normalize(q[..., 1:], dim=-1), angle


def matrix_to_axis_angle(R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis ``[..., 3]`` and angle ``[...]`` in ``[0, pi]`` of rotation matrices ``R: [..., 3, 3]``.

    The angle comes from the trace, the axis from the antisymmetric part of ``R``.
    """
    trace = R.diagonal(dim1=-2, dim2=-1).sum(-1)
    angle = torch.acos(((trace - 1) / 2).clamp(-1, 1))
    A = R - R.transpose(-1, -2)
    axis = torch.stack([A[..., 2, 1], A[..., 0, 2], A[..., 1, 0]], dim=-1)
    return torch.nn.functional.normalize(axis, dim=-1), angle


def axis_angle_to_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` of ``axis: [..., 3]`` by ``angle: [...]``.

    Computed as ``M Ry(angle) M^T`` with ``M`` a rotation taking ``e_y`` to the axis.
    """
    axis, angle = torch.broadcast_tensors(axis, angle[..., None])
    alpha, beta = xyz_to_angles(axis)
    M = angles_to_matrix(alpha, beta, torch.zeros_like(beta))
    return M @ matrix_y(angle[..., 0]) @ M.transpose(-2, -1)


def angles_to_quaternion(alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[..., 4]`` of the Euler angles ``Ry(alpha) Rx(beta) Ry(gamma)``."""
    alpha, beta, gamma = torch.broadcast_tensors(alpha, beta, gamma)
    e_x = alpha.new_tensor([1.0, 0.0, 0.0])
    e_y = alpha.new_tensor([0.0, 1.0, 0.0])
    qa = axis_angle_to_quaternion(e_y, alpha)
    qb = axis_angle_to_quaternion(e_x, beta)
    qc = axis_angle_to_quaternion(e_y, gamma)
    return compose_quaternion(qa, compose_quaternion(qb, qc))


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[..., 4]`` of rotation matrices ``R: [..., 3, 3]``."""
    return axis_angle_to_quaternion(*matrix_to_axis_angle(R))


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` of unit quaternions ``q: [..., 4]``."""
    return axis_angle_to_matrix(*quaternion_to_axis_angle(q))


def quaternion_to_angles(q: torch.Tensor) -> Angles:
    """Euler angles of unit quaternions ``q: [..., 4]``."""
    return matrix_to_angles(quaternion_to_matrix(q))


def angles_to_axis_angle(
    alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis ``[..., 3]`` and angle ``[...]`` of the Euler angles ``(alpha, beta, gamma)``."""
    return matrix_to_axis_angle(angles_to_matrix(alpha, beta, gamma))


def axis_angle_to_angles(axis: torch.Tensor, angle: torch.Tensor) -> Angles:
    """Euler angles of the rotation of ``axis: [..., 3]`` by ``angle: [...]``."""
    return matrix_to_angles(axis_angle_to_matrix(axis, angle))
