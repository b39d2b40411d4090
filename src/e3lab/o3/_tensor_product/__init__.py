"""Tensor products of irreps-laid-out tensors (e3nn's API): instructions, fast kernel, reference."""

from e3lab.o3._tensor_product._instruction import Instruction
from e3lab.o3._tensor_product._reference import tensor_product_reference
from e3lab.o3._tensor_product._sub import (
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
)
from e3lab.o3._tensor_product._switches import (
    fast_paths_enabled,
    native_enabled,
    set_fast_paths,
    set_native,
    set_triton,
    triton_mode,
)
from e3lab.o3._tensor_product._tensor_product import TensorProduct

__all__ = [
    "ElementwiseTensorProduct",
    "FullTensorProduct",
    "FullyConnectedTensorProduct",
    "Instruction",
    "TensorProduct",
    "fast_paths_enabled",
    "native_enabled",
    "set_fast_paths",
    "set_native",
    "set_triton",
    "tensor_product_reference",
    "triton_mode",
]
