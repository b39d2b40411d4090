"""The standard tensor products: fully connected, full (no weights) and elementwise (no weights)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from e3lab.o3._irrep import Irrep
from e3lab.o3._irreps import Irreps
from e3lab.o3._tensor_product._tensor_product import TensorProduct

__all__ = ["ElementwiseTensorProduct", "FullTensorProduct", "FullyConnectedTensorProduct"]


def _filter(filter_ir_out: Iterable | None) -> list[Irrep] | None:
    if filter_ir_out is None:
        return None
    try:
        return [Irrep(ir) for ir in filter_ir_out]
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"filter_ir_out={filter_ir_out!r} must be an iterable of irreps like ['0e', '1o']"
        ) from error


class FullyConnectedTensorProduct(TensorProduct):
    """All ``uvw`` paths ``in1[i1] x in2[i2] -> out[i_out]`` allowed by the selection rules, with weights.

    Instructions loop ``i1``, then ``i2``, then ``i_out``. ``x: [..., irreps_in1.dim]``,
    ``y: [..., irreps_in2.dim]`` -> ``[..., irreps_out.dim]``. Other keyword arguments go to
    :class:`TensorProduct`.
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        irreps_out: Any,
        irrep_normalization: str | None = None,
        path_normalization: str | None = None,
        **kwargs: Any,
    ) -> None:
        irreps_in1, irreps_in2, irreps_out = Irreps(irreps_in1), Irreps(irreps_in2), Irreps(irreps_out)
        instructions = [
            (i1, i2, i_out, "uvw", True, 1.0)
            for i1, (_, ir1) in enumerate(irreps_in1)
            for i2, (_, ir2) in enumerate(irreps_in2)
            for i_out, (_, ir_out) in enumerate(irreps_out)
            if ir_out in list(ir1 * ir2)
        ]
        super().__init__(
            irreps_in1,
            irreps_in2,
            irreps_out,
            instructions,
            irrep_normalization=irrep_normalization,
            path_normalization=path_normalization,
            **kwargs,
        )


class FullTensorProduct(TensorProduct):
    """Every ``x_u (x) y_v`` into every allowed irrep (``uvuv``, no weights); the output is sorted.

    ``irreps_in1`` and ``irreps_in2`` are simplified first; ``filter_ir_out`` keeps only the listed output
    irreps. The output term of ``in1[i1] x in2[i2] -> ir`` has multiplicity ``mul1 * mul2``.
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        filter_ir_out: Iterable | None = None,
        irrep_normalization: str | None = None,
        **kwargs: Any,
    ) -> None:
        irreps_in1, irreps_in2 = Irreps(irreps_in1).simplify(), Irreps(irreps_in2).simplify()
        keep = _filter(filter_ir_out)
        out, instructions = [], []
        for i1, (mul1, ir1) in enumerate(irreps_in1):
            for i2, (mul2, ir2) in enumerate(irreps_in2):
                for ir_out in ir1 * ir2:
                    if keep is not None and ir_out not in keep:
                        continue
                    instructions.append((i1, i2, len(out), "uvuv", False))
                    out.append((mul1 * mul2, ir_out))
        irreps_out, p, _ = Irreps(out).sort()
        instructions = [(i1, i2, p[i_out], mode, train) for i1, i2, i_out, mode, train in instructions]
        super().__init__(
            irreps_in1,
            irreps_in2,
            irreps_out,
            instructions,
            irrep_normalization=irrep_normalization,
            **kwargs,
        )


class ElementwiseTensorProduct(TensorProduct):
    """``z_u = x_u (x) y_u`` copy by copy (``uuu``, no weights); both inputs need the same number of irreps.

    The simplified inputs are split so that their terms line up; each pair gives one output term per allowed
    irrep (kept by ``filter_ir_out`` when given), in order.
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        filter_ir_out: Iterable | None = None,
        irrep_normalization: str | None = None,
        **kwargs: Any,
    ) -> None:
        irreps_in1, irreps_in2 = Irreps(irreps_in1).simplify(), Irreps(irreps_in2).simplify()
        keep = _filter(filter_ir_out)
        if irreps_in1.num_irreps != irreps_in2.num_irreps:
            raise ValueError(
                f"ElementwiseTensorProduct needs as many irreps in both inputs: {irreps_in1} has "
                f"{irreps_in1.num_irreps}, {irreps_in2} has {irreps_in2.num_irreps}"
            )
        terms1, terms2 = [tuple(t) for t in irreps_in1], [tuple(t) for t in irreps_in2]
        i = 0
        while i < len(terms1):  # split the longer term so that both lists line up
            (mul1, ir1), (mul2, ir2) = terms1[i], terms2[i]
            if mul1 < mul2:
                terms2[i : i + 1] = [(mul1, ir2), (mul2 - mul1, ir2)]
            elif mul2 < mul1:
                terms1[i : i + 1] = [(mul2, ir1), (mul1 - mul2, ir1)]
            i += 1
        out, instructions = [], []
        for i, ((mul, ir1), (_, ir2)) in enumerate(zip(terms1, terms2, strict=True)):
            for ir_out in ir1 * ir2:
                if keep is None or ir_out in keep:
                    instructions.append((i, i, len(out), "uuu", False))
                    out.append((mul, ir_out))
        super().__init__(terms1, terms2, out, instructions, irrep_normalization=irrep_normalization, **kwargs)
