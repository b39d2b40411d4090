"""Point-group names: every family built from its generators, and the groups of known shapes and molecules."""

from __future__ import annotations

import math

import pytest
import torch

from e3lab.o3 import rand_matrix
from e3lab.symmetry import point_group, symmetry_group

PHI = (1 + 5**0.5) / 2
E = torch.eye(3, dtype=torch.float64)
INVERSION = -E


def rotation(axis: tuple[float, float, float], angle: float) -> torch.Tensor:
    """Rodrigues' formula, written out independently of e3lab."""
    a = torch.tensor(axis, dtype=torch.float64)
    a = a / a.norm()
    K = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]], dtype=torch.float64)
    return E + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def mirror(normal: tuple[float, float, float]) -> torch.Tensor:
    n = torch.tensor(normal, dtype=torch.float64)
    n = n / n.norm()
    return E - 2 * torch.outer(n, n)


def closure(generators: list[torch.Tensor]) -> torch.Tensor:
    """Every product of the generators: ``[G, 3, 3]``."""
    elements = [E]
    frontier = [E]
    while frontier:
        new = []
        for g in frontier:
            for h in generators:
                gh = g @ h
                if all((gh - k).abs().max() > 1e-9 for k in elements):
                    elements.append(gh)
                    new.append(gh)
        frontier = new
    return torch.stack(elements)


def cz(n: int) -> torch.Tensor:
    return rotation((0, 0, 1), 2 * math.pi / n)


C2X = rotation((1, 0, 0), math.pi)
SIGMA_Z, SIGMA_X = mirror((0, 0, 1)), mirror((1, 0, 0))
C3_111 = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)  # (x, y, z) -> (z, x, y)
T_GENERATORS = [cz(2), C3_111]
O_GENERATORS = [cz(4), C3_111]
I_GENERATORS = [cz(2), C3_111, rotation((0, 1, PHI), 2 * math.pi / 5)]

FAMILIES = {
    "C1": ([E], 1),
    "Ci": ([INVERSION], 2),
    "Cs": ([SIGMA_Z], 2),
    **{f"C{n}": ([cz(n)], n) for n in (2, 3, 4, 6)},
    **{f"C{n}v": ([cz(n), SIGMA_X], 2 * n) for n in (2, 3, 4, 6)},
    **{f"C{n}h": ([cz(n), SIGMA_Z], 2 * n) for n in (2, 3, 4, 6)},
    **{f"S{2 * n}": ([cz(2 * n) @ SIGMA_Z], 2 * n) for n in (2, 3, 4)},
    **{f"D{n}": ([cz(n), C2X], 2 * n) for n in (2, 3, 4, 6)},
    **{f"D{n}h": ([cz(n), C2X, SIGMA_Z], 4 * n) for n in (2, 3, 4, 5, 6)},
    **{f"D{n}d": ([cz(2 * n) @ SIGMA_Z, C2X], 4 * n) for n in (2, 3, 4, 5, 6)},
    "T": (T_GENERATORS, 12),
    "Td": ([*T_GENERATORS, mirror((1, -1, 0))], 24),
    "Th": ([*T_GENERATORS, INVERSION], 24),
    "O": (O_GENERATORS, 24),
    "Oh": ([*O_GENERATORS, INVERSION], 48),
    "I": (I_GENERATORS, 60),
    "Ih": ([*I_GENERATORS, INVERSION], 120),
}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_is_named_in_any_orientation(name: str) -> None:
    generators, order = FAMILIES[name]
    elements = closure(generators)
    assert len(elements) == order
    Q = rand_matrix(dtype=torch.float64)
    group = point_group(Q @ elements @ Q.T)
    assert (group.name, group.order) == (name, order)


def test_structure_of_d4h() -> None:
    group = point_group(closure([cz(4), C2X, SIGMA_Z]))
    assert group.axes == {4: 1, 2: 4}
    assert group.inversion and group.mirrors == 5
    assert group.describe() == "D4h: 16 elements; axes 1 C4, 4 C2; inversion; 5 mirrors"


def _orbit(points: list[tuple[float, float, float]], generators: list[torch.Tensor]) -> torch.Tensor:
    """Every image of ``points`` under the group the generators make (duplicates removed)."""
    images = torch.cat([torch.tensor(points, dtype=torch.float64) @ g.T for g in closure(generators)])
    keep = [i for i in range(len(images)) if all((images[i] - images[j]).norm() > 1e-9 for j in range(i))]
    return images[keep]


def _planar_ring(
    n: int, radius: float, phase: float = 0.0, z: float = 0.0
) -> list[tuple[float, float, float]]:
    return [
        (radius * math.cos(phase + 2 * math.pi * k / n), radius * math.sin(phase + 2 * math.pi * k / n), z)
        for k in range(n)
    ]


def _molecule(heavy: list, light: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions and a one-hot species feature (``2x0e``) of two kinds of atoms."""
    pos = torch.tensor(heavy + light, dtype=torch.float64)
    x = torch.zeros(len(pos), 2, dtype=torch.float64)
    x[: len(heavy), 0] = 1.0
    x[len(heavy) :, 1] = 1.0
    return pos, x


SQUARE = [(0.5, 0.5, 0), (-0.5, 0.5, 0), (-0.5, -0.5, 0), (0.5, -0.5, 0)]
TETRAHEDRON = [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)]
OCTAHEDRON = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
CUBE = [(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
ICOSAHEDRON = [p for a in (-1, 1) for b in (-PHI, PHI) for p in ((0, a, b), (a, b, 0), (b, 0, a))]
STAGGERED, ECLIPSED = math.pi / 3, 0.0


def _ethane(twist: float) -> tuple[torch.Tensor, torch.Tensor]:
    hydrogens = _planar_ring(3, 1.0, 0.0, 1.2) + _planar_ring(3, 1.0, twist, -1.2)
    return _molecule([(0, 0, 0.77), (0, 0, -0.77)], hydrogens)


SHAPES = {
    "square": (lambda: (torch.tensor(SQUARE), None), "D4h"),
    "rectangle": (lambda: (torch.tensor(SQUARE) * torch.tensor([0.5, 1.5, 0]), None), "D2h"),
    "equilateral triangle": (lambda: (torch.tensor(_planar_ring(3, 1.0)), None), "D3h"),
    "tetrahedron": (lambda: (torch.tensor(TETRAHEDRON), None), "Td"),
    "octahedron": (lambda: (torch.tensor(OCTAHEDRON), None), "Oh"),
    "cube": (lambda: (torch.tensor(CUBE), None), "Oh"),
    "icosahedron": (lambda: (torch.tensor(ICOSAHEDRON), None), "Ih"),
    "water": (lambda: _molecule([(0, 0, 0.12)], [(0.76, 0, -0.47), (-0.76, 0, -0.47)]), "C2v"),
    "ammonia": (lambda: _molecule([(0, 0, 0.38)], _planar_ring(3, 0.94, 0.0, -0.1)), "C3v"),
    "methane": (lambda: _molecule([(0, 0, 0)], [tuple(0.63 * c for c in p) for p in TETRAHEDRON]), "Td"),
    "benzene": (lambda: _molecule(_planar_ring(6, 1.39), _planar_ring(6, 2.47)), "D6h"),
    "staggered ethane": (lambda: _ethane(STAGGERED), "D3d"),
    "eclipsed ethane": (lambda: _ethane(ECLIPSED), "D3h"),
    "twisted ethane": (lambda: _ethane(0.4), "D3"),
    "allene": (
        lambda: _molecule(
            [(0, 0, 0), (0, 0, 1.3), (0, 0, -1.3)],
            [(0.9, 0, 1.9), (-0.9, 0, 1.9), (0, 0.9, -1.9), (0, -0.9, -1.9)],
        ),
        "D2d",
    ),
    "trans planar zigzag": (
        lambda: _molecule([(0.6, 0.1, 0), (-0.6, -0.1, 0)], [(1.2, 1.0, 0), (-1.2, -1.0, 0)]),
        "C2h",
    ),
    "four generic points": (
        lambda: (torch.tensor([[0, 0, 0], [1, 0.1, 0], [0.3, 1.2, 0], [0.2, 0.4, 0.9]]), None),
        "C1",
    ),
    "generic orbit of T": (lambda: (_orbit([(0.3, 0.5, 0.9), (0.7, -0.2, 0.1)], T_GENERATORS), None), "T"),
    "generic orbit of Th": (lambda: (_orbit([(0.3, 0.5, 0.9)], [*T_GENERATORS, INVERSION]), None), "Th"),
    "generic orbit of O": (lambda: (_orbit([(0.3, 0.5, 0.9)], O_GENERATORS), None), "O"),
    "two generic orbits of Oh": (
        lambda: (_orbit([(0.3, 0.5, 0.9), (1.1, -0.2, 0.4)], [*O_GENERATORS, INVERSION]), None),
        "Oh",
    ),
    "generic orbit of S4": (
        lambda: (_orbit([(0.3, 0.5, 0.9), (0.8, 0.1, -0.4)], [cz(4) @ SIGMA_Z]), None),
        "S4",
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_known_shapes(float64: None, shape: str) -> None:
    build, name = SHAPES[shape]
    pos, x = build()
    pos = pos.to(torch.float64)
    if x is None:
        x, irreps = torch.ones(len(pos), 1), "1x0e"
    else:
        irreps = "2x0e"
    group = point_group(symmetry_group(pos, x, irreps))
    assert group.name == name


def test_features_lower_the_group(float64: None) -> None:
    """The square with the same vector along z on every node is C4v; with a pseudovector, C4h."""
    pos = torch.tensor(SQUARE)
    up = torch.tensor([[0.0, 0.0, 1.0]]).expand(4, -1)  # l=1 components are (x, y, z)
    assert point_group(symmetry_group(pos, up, "1x1o")).name == "C4v"
    assert point_group(symmetry_group(pos, up, "1x1e")).name == "C4h"


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        point_group([])
    with pytest.raises(ValueError, match="orthogonal"):
        point_group(2 * torch.eye(3)[None])
    with pytest.raises(ValueError, match="do not form"):
        point_group(torch.stack([E, cz(4)]))  # not closed
