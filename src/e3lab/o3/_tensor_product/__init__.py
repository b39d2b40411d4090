"""Tensor products of irreps-laid-out tensors (e3nn's API): instructions, fast kernel, reference."""

from e3lab.o3._tensor_product._fast_paths import fast_paths_enabled, set_fast_paths
from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._reference import tensor_product_reference
from e3lab.o3._tensor_product._sub import (
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
)
from e3lab.o3._tensor_product._tensor_product import TensorProduct
from e3lab.o3._tensor_product._triton_tp import set_triton, triton_mode

__all__ = [
    "ElementwiseTensorProduct",
    "FullTensorProduct",
    "FullyConnectedTensorProduct",
    "Instruction",
    "TensorProduct",
    "fast_paths_enabled",
    "set_fast_paths",
    "set_triton",
    "tensor_product_reference",
    "triton_mode",
]
