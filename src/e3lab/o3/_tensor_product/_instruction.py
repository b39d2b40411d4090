"""Tensor-product instructions: parsing, validation and e3nn's path normalisation.

An instruction ``(i_in1, i_in2, i_out, connection_mode, has_weight, path_weight)`` couples the block
``irreps_in1[i_in1]`` with ``irreps_in2[i_in2]`` into ``irreps_out[i_out]``. The multiplicity indices are
connected as the mode says (``u``: in1, ``v``: in2, ``w``: out):

============  =====================================  ===================  ================
mode          output copy                            weight shape         num_el (alpha)
============  =====================================  ===================  ================
``uvw``       z_w = sum_uv w_uvw x_u (x) y_v         (mul1, mul2, mul_o)  mul1 mul2
``uvu``       z_u = sum_v w_uv x_u (x) y_v           (mul1, mul2)         mul2
``uvv``       z_v = sum_u w_uv x_u (x) y_v           (mul1, mul2)         mul1
``uuw``       z_w = sum_u w_uw x_u (x) y_u           (mul1, mul_o)        mul1
``uuu``       z_u = w_u x_u (x) y_u                  (mul1,)              1
``uvuv``      z_uv = w_uv x_u (x) y_v                (mul1, mul2)         1
``uvu<v``     z_q = w_q x_u (x) y_v                  (P,)                 1
``u<vw``      z_w = sum_q w_qw x_u (x) y_v           (P, mul_o)           P
============  =====================================  ===================  ================

The two triangle modes need ``mul1 == mul2``: ``q`` runs over the ``P = mul1 (mul1 - 1) / 2`` pairs
``u < v`` in row-major order (``torch.triu_indices(mul1, mul1, 1)``). The instructions of an existing
product (its 7-field ``Instruction`` objects, e3lab's or e3nn's ``tp.instructions``) are accepted too:
their ``path_weight`` is already normalised and is used as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from e3lab.o3._errors import InstructionError, InstructionIndexError
from e3lab.o3._irreps import Irreps

__all__ = ["CONNECTION_MODES", "Instruction", "build_instructions"]

CONNECTION_MODES = ("uvw", "uvu", "uvv", "uuw", "uuu", "uvuv", "uvu<v", "u<vw")
IRREP_NORMALIZATIONS = ("component", "norm", "none")
PATH_NORMALIZATIONS = ("element", "path", "none")


class Instruction(NamedTuple):
    """One path of a tensor product; ``path_weight`` is the final factor sqrt(alpha) (as in e3nn)."""

    i_in1: int
    i_in2: int
    i_out: int
    connection_mode: str
    has_weight: bool
    path_weight: float
    path_shape: tuple


def _path_shape(mode: str, mul1: int, mul2: int, mul_out: int) -> tuple[int, ...]:
    return {
        "uvw": (mul1, mul2, mul_out),
        "uvu": (mul1, mul2),
        "uvv": (mul1, mul2),
        "uuw": (mul1, mul_out),
        "uuu": (mul1,),
        "uvuv": (mul1, mul2),
        "uvu<v": (mul1 * (mul2 - 1) // 2,),
        "u<vw": (mul1 * (mul2 - 1) // 2, mul_out),
    }[mode]


def _num_elements(mode: str, mul1: int, mul2: int) -> int:
    pairs = mul1 * (mul2 - 1) // 2
    return {"uvw": mul1 * mul2, "uvu": mul2, "uvv": mul1, "uuw": mul1, "uuu": 1, "uvuv": 1, "uvu<v": 1}.get(
        mode, pairs
    )


def _check_index(index: object, irreps: Irreps, what: str, ins: tuple) -> None:
    if not isinstance(index, int) or not 0 <= index < len(irreps):
        raise InstructionIndexError(
            f"instruction {ins}: {what}={index!r} is not an index of {irreps} "
            f"(expected 0 <= {what} < {len(irreps)})"
        )


def _check_multiplicities(
    ins: tuple, mode: str, has_weight: bool, mul1: int, mul2: int, mul_out: int
) -> None:
    required = {
        "uvu": (mul1 == mul_out, "mul1 == mul_out"),
        "uvv": (mul2 == mul_out, "mul2 == mul_out"),
        "uuw": (
            mul1 == mul2 and (has_weight or mul_out == 1),
            "mul1 == mul2 (and mul_out == 1 without weights)",
        ),
        "uuu": (mul1 == mul2 == mul_out, "mul1 == mul2 == mul_out"),
        "uvuv": (mul1 * mul2 == mul_out, "mul1 * mul2 == mul_out"),
        "uvw": (has_weight, "has_weight=True (uvw has no meaning without weights)"),
        "uvu<v": (
            mul1 == mul2 and mul1 * (mul1 - 1) // 2 == mul_out,
            "mul1 == mul2 and mul_out = mul1 (mul1-1)/2",
        ),
        "u<vw": (mul1 == mul2 and has_weight, "mul1 == mul2 and has_weight=True"),
    }
    ok, rule = required[mode]
    if not ok:
        raise InstructionError(
            f"instruction {ins}: mode '{mode}' needs {rule}, got mul1={mul1}, mul2={mul2}, mul_out={mul_out}"
        )


def _variances(var: Sequence[float] | None, irreps: Irreps, name: str) -> list[float]:
    if var is None:
        return [1.0] * len(irreps)
    out = [float(v) for v in var]
    if len(out) != len(irreps):
        raise ValueError(f"{name} has {len(out)} entries but its irreps {irreps} have {len(irreps)} terms")
    return out


def _parse(ins: Sequence, irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps) -> tuple:
    """One checked instruction: ``(i1, i2, i_out, mode, has_weight, weight, shape, num_el, normalized)``.

    ``weight`` is the given path weight, or the final one for a 7-field (normalised) instruction.
    """
    ins = tuple(ins)
    if len(ins) not in (5, 6, 7):
        raise InstructionError(
            f"instruction {ins} has {len(ins)} entries; expected "
            "(i_in1, i_in2, i_out, connection_mode, has_weight[, path_weight])"
        )
    i1, i2, io, mode, has_weight = ins[:5]
    weight = float(ins[5]) if len(ins) >= 6 else 1.0
    _check_index(i1, irreps_in1, "i_in1", ins)
    _check_index(i2, irreps_in2, "i_in2", ins)
    _check_index(io, irreps_out, "i_out", ins)
    if mode not in CONNECTION_MODES:
        raise InstructionError(
            f"instruction {ins}: unknown connection mode {mode!r}; expected one of {CONNECTION_MODES}"
        )
    (mul1, ir1), (mul2, ir2), (mul_out, ir_out) = irreps_in1[i1], irreps_in2[i2], irreps_out[io]
    if ir_out not in list(ir1 * ir2):
        raise InstructionError(
            f"instruction {ins}: {ir1} x {ir2} cannot produce {ir_out} (needs |l1-l2| <= l_out <= l1+l2 "
            f"and parity p1*p2); choose an output irrep in {list(ir1 * ir2)}"
        )
    _check_multiplicities(ins, mode, bool(has_weight), mul1, mul2, mul_out)
    shape = _path_shape(mode, mul1, mul2, mul_out)
    if len(ins) == 7 and tuple(ins[6]) != shape:
        raise InstructionError(
            f"instruction {ins}: path_shape {tuple(ins[6])} does not match the irreps, which give {shape}; "
            "was it made for other irreps?"
        )
    return (i1, i2, io, mode, bool(has_weight), weight, shape, _num_elements(mode, mul1, mul2), len(ins) == 7)


def build_instructions(
    irreps_in1: Irreps,
    irreps_in2: Irreps,
    irreps_out: Irreps,
    instructions: Sequence[tuple],
    in1_var: Sequence[float] | None,
    in2_var: Sequence[float] | None,
    out_var: Sequence[float] | None,
    irrep_normalization: str,
    path_normalization: str,
) -> list[Instruction]:
    """Validate the raw instruction tuples and fold e3nn's normalisation into ``path_weight``.

    Normalised 7-field instructions (another product's ``instructions``) keep their ``path_weight``.

    ``path_weight = sqrt(alpha)``, ``alpha = c_irrep / x * out_var * path_weight_given`` where ``c_irrep`` is
    ``dim(ir_out)`` (component), ``dim(ir1) dim(ir2)`` (norm) or 1, and ``x`` is the variance-weighted
    element count of the paths into the same output (element) or of this path times their number (path).
    """
    if irrep_normalization not in IRREP_NORMALIZATIONS:
        raise ValueError(
            f"irrep_normalization={irrep_normalization!r}; expected one of {IRREP_NORMALIZATIONS}"
        )
    if path_normalization not in PATH_NORMALIZATIONS:
        raise ValueError(f"path_normalization={path_normalization!r}; expected one of {PATH_NORMALIZATIONS}")
    var1 = _variances(in1_var, irreps_in1, "in1_var")
    var2 = _variances(in2_var, irreps_in2, "in2_var")
    var_out = _variances(out_var, irreps_out, "out_var")

    parsed = [_parse(ins, irreps_in1, irreps_in2, irreps_out) for ins in instructions]
    normalized = [p for p in parsed if p[8]]
    if normalized:
        if len(normalized) != len(parsed):
            raise InstructionError(
                "instructions mix normalised 7-field Instructions with raw tuples; give all of one kind"
            )
        return [Instruction(*p[:7]) for p in parsed]

    out = []
    for i1, i2, io, mode, has_weight, given_weight, shape, num_el, _ in parsed:
        ir1, ir2, ir_out = irreps_in1[i1].ir, irreps_in2[i2].ir, irreps_out[io].ir
        alpha = {"component": ir_out.dim, "norm": ir1.dim * ir2.dim, "none": 1}[irrep_normalization]
        same_out = [p for p in parsed if p[2] == io]
        if path_normalization == "element":
            x = sum(var1[p[0]] * var2[p[1]] * p[7] for p in same_out)
        elif path_normalization == "path":
            x = var1[i1] * var2[i2] * num_el * len(same_out)
        else:
            x = 1
        if x > 0:
            alpha /= x
        alpha *= var_out[io] * given_weight
        out.append(Instruction(i1, i2, io, mode, has_weight, math.sqrt(alpha), shape))
    return out
