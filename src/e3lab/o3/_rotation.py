"""Parametrisations of SO(3): matrices, Euler angles, quaternions and axis-angle pairs.

Conventions follow e3nn: the Euler angles are ``(alpha, beta, gamma)`` with
``R = Ry(alpha) @ Rx(beta) @ Ry(gamma)`` (gamma applied first), quaternions are ``(w, x, y, z)``
and compose with the Hamilton product, ``y`` is the polar axis of :func:`angles_to_xyz`.
Quaternions and axis-angle pairs live in :mod:`e3lab.o3._quaternion`.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "angles_to_matrix",
    "angles_to_xyz",
    "compose_angles",
    "identity_angles",
    "inverse_angles",
    "matrix_to_angles",
    "matrix_x",
    "matrix_y",
    "matrix_z",
    "rand_angles",
    "rand_matrix",
    "xyz_to_angles",
]

Angles = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _finish(t: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    return t.detach().requires_grad_(requires_grad)


def rand_angles(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> Angles:
    """Euler angles of Haar-random rotations: ``alpha, gamma ~ U[0, 2pi)``, ``beta = acos(U[-1, 1])``.

    Returns three tensors of shape ``shape``.
    """
    alpha, gamma = 2 * math.pi * torch.rand(2, *shape, dtype=dtype, device=device)
    beta = torch.rand(shape, dtype=dtype, device=device).mul(2).sub(1).acos()
    return _finish(alpha, requires_grad), _finish(beta, requires_grad), _finish(gamma, requires_grad)


def identity_angles(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> Angles:
    """Euler angles of the identity: three zero tensors of shape ``shape``."""
    zeros = torch.zeros(3, *shape, dtype=dtype, device=device)
    return tuple(_finish(z, requires_grad) for z in zeros)  # type: ignore[return-value]


def rand_matrix(
    *shape: int, requires_grad: bool = False, dtype: torch.dtype | None = None, device=None
) -> torch.Tensor:
    """Haar-random rotation matrices (det +1) of shape ``(*shape, 3, 3)``."""
    R = angles_to_matrix(*rand_angles(*shape, dtype=dtype, device=device))
    return _finish(R, requires_grad)


def _axis_rotation(angle: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """Rotation by ``angle`` in the (i, j) plane, turning e_i towards e_j: ``[..., 3, 3]``."""
    c, s = angle.cos(), angle.sin()
    o, z = torch.ones_like(angle), torch.zeros_like(angle)
    rows = [[o, z, z], [z, o, z], [z, z, o]]
    rows[i][i], rows[j][j] = c, c
    rows[j][i], rows[i][j] = s, -s
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def matrix_x(angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about the x axis, ``angle: [...]`` -> ``[..., 3, 3]``."""
    return _axis_rotation(angle, 1, 2)


def matrix_y(angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about the y axis, ``angle: [...]`` -> ``[..., 3, 3]``."""
    return _axis_rotation(angle, 2, 0)


def matrix_z(angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about the z axis, ``angle: [...]`` -> ``[..., 3, 3]``."""
    return _axis_rotation(angle, 0, 1)


def angles_to_matrix(alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """``Ry(alpha) @ Rx(beta) @ Ry(gamma)``; angles ``[...]`` (broadcast) -> ``[..., 3, 3]``."""
    alpha, beta, gamma = torch.broadcast_tensors(alpha, beta, gamma)
    return matrix_y(alpha) @ matrix_x(beta) @ matrix_y(gamma)


def xyz_to_angles(xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Angles ``(alpha, beta)`` of the direction ``xyz: [..., 3]`` (need not be normalised).

    ``beta = acos(y / |xyz|)``, ``alpha = atan2(x, z)``; the zero vector gives finite angles.
    """
    xyz = torch.nn.functional.normalize(xyz, p=2.0, dim=-1).clamp(-1, 1)
    return torch.atan2(xyz[..., 0], xyz[..., 2]), torch.acos(xyz[..., 1])


def angles_to_xyz(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Point on the sphere ``(sin b sin a, cos b, sin b cos a)``; angles ``[...]`` -> ``[..., 3]``."""
    alpha, beta = torch.broadcast_tensors(alpha, beta)
    sin_beta = beta.sin()
    return torch.stack([sin_beta * alpha.sin(), beta.cos(), sin_beta * alpha.cos()], dim=-1)


def matrix_to_angles(R: torch.Tensor) -> Angles:
    """Euler angles ``(alpha, beta, gamma)`` of rotation matrices ``R: [..., 3, 3]`` (det must be +1).

    ``alpha, beta`` locate ``R e_y``; ``gamma`` is what remains once they are undone.
    """
    alpha, beta = xyz_to_angles(R[..., :, 1])
    rest = angles_to_matrix(alpha, beta, torch.zeros_like(alpha)).transpose(-1, -2) @ R
    return alpha, beta, torch.atan2(rest[..., 0, 2], rest[..., 0, 0])


def compose_angles(
    a1: torch.Tensor, b1: torch.Tensor, c1: torch.Tensor, a2: torch.Tensor, b2: torch.Tensor, c2: torch.Tensor
) -> Angles:
    """Euler angles of ``R(a1, b1, c1) @ R(a2, b2, c2)`` (the second rotation is applied first)."""
    a1, b1, c1, a2, b2, c2 = torch.broadcast_tensors(a1, b1, c1, a2, b2, c2)
    return matrix_to_angles(angles_to_matrix(a1, b1, c1) @ angles_to_matrix(a2, b2, c2))


def inverse_angles(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> Angles:
    """Euler angles of the inverse rotation: ``(-c, -b, -a)``."""
    return -c, -b, -a
