"""O(3) building blocks with e3nn's names and conventions: irreps, rotations, Wigner matrices."""

from e3lab.o3._irrep import Irrep
from e3lab.o3._irreps import Irreps
from e3lab.o3._quaternion import (
    angles_to_axis_angle,
    angles_to_quaternion,
    axis_angle_to_angles,
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    compose_axis_angle,
    compose_quaternion,
    identity_quaternion,
    inverse_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_angles,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rand_axis_angle,
    rand_quaternion,
)
from e3lab.o3._rotation import (
    angles_to_matrix,
    angles_to_xyz,
    compose_angles,
    identity_angles,
    inverse_angles,
    matrix_to_angles,
    matrix_x,
    matrix_y,
    matrix_z,
    rand_angles,
    rand_matrix,
    xyz_to_angles,
)
from e3lab.o3._spherical_harmonics import SphericalHarmonics, spherical_harmonics
from e3lab.o3._wigner import change_basis_real_to_complex, so3_generators, su2_generators, wigner_D
from e3lab.o3._wigner_3j import wigner_3j

__all__ = [
    "Irrep",
    "Irreps",
    "SphericalHarmonics",
    "angles_to_axis_angle",
    "angles_to_matrix",
    "angles_to_quaternion",
    "angles_to_xyz",
    "axis_angle_to_angles",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "change_basis_real_to_complex",
    "compose_angles",
    "compose_axis_angle",
    "compose_quaternion",
    "identity_angles",
    "identity_quaternion",
    "inverse_angles",
    "inverse_quaternion",
    "matrix_to_angles",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_x",
    "matrix_y",
    "matrix_z",
    "quaternion_to_angles",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rand_angles",
    "rand_axis_angle",
    "rand_matrix",
    "rand_quaternion",
    "so3_generators",
    "spherical_harmonics",
    "su2_generators",
    "wigner_3j",
    "wigner_D",
    "xyz_to_angles",
]
from e3lab.o3._linear import Linear
from e3lab.o3._tensor_product import (
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
    Instruction,
    TensorProduct,
)

__all__ += [
    "ElementwiseTensorProduct",
    "FullTensorProduct",
    "FullyConnectedTensorProduct",
    "Instruction",
    "Linear",
    "TensorProduct",
]
