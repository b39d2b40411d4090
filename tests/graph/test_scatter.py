"""scatter: the native path against a loop reference and torch_scatter (values and gradients), errors."""

from __future__ import annotations

import pytest
import torch

from e3lab.graph import scatter

REDUCES = ["sum", "mean", "max", "min"]


def loop_reference(src: torch.Tensor, index: torch.Tensor, dim_size: int, reduce: str) -> torch.Tensor:
    """Reduce slot by slot along dim 0 with plain torch reductions; empty slots are 0."""
    rows = []
    for slot in range(dim_size):
        chosen = src[index == slot]
        if chosen.shape[0] == 0:
            rows.append(torch.zeros_like(src[0]))
        elif reduce == "sum":
            rows.append(chosen.sum(0))
        elif reduce == "mean":
            rows.append(chosen.mean(0))
        elif reduce == "max":
            rows.append(chosen.amax(0))
        else:
            rows.append(chosen.amin(0))
    return torch.stack(rows)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_matches_loop_reference(reduce: str, dtype: torch.dtype) -> None:
    src = torch.randn(50, 4, 3, dtype=dtype)
    index = torch.randint(0, 9, (50,))
    out = scatter(src, index, dim_size=12, reduce=reduce, backend="native")
    assert out.shape == (12, 4, 3) and out.dtype == dtype
    torch.testing.assert_close(out, loop_reference(src, index, 12, reduce), rtol=0, atol=1e-5)
    assert (out[9:] == 0).all()  # slots that receive nothing


@pytest.mark.parametrize("reduce", REDUCES)
def test_other_dims_and_full_shape_index(reduce: str) -> None:
    src = torch.randn(5, 40, 3)
    index = torch.randint(0, 7, (40,))
    expected = loop_reference(src.transpose(0, 1), index, 7, reduce).transpose(0, 1)
    torch.testing.assert_close(scatter(src, index, dim=1, reduce=reduce, backend="native"), expected)
    torch.testing.assert_close(scatter(src, index, dim=-2, reduce=reduce, backend="native"), expected)
    full = index[None, :, None].expand_as(src)
    torch.testing.assert_close(scatter(src, full, dim=1, reduce=reduce, backend="native"), expected)


def test_default_dim_size_and_empty_index() -> None:
    src = torch.ones(6, 2)
    assert scatter(src, torch.tensor([0, 0, 4, 4, 4, 1])).tolist() == [[2, 2], [1, 1], [0, 0], [0, 0], [3, 3]]
    assert scatter(torch.ones(0, 2), torch.zeros(0, dtype=torch.long)).shape == (0, 2)
    assert scatter(torch.ones(0, 2), torch.zeros(0, dtype=torch.long), dim_size=3).tolist() == [[0, 0]] * 3


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("dim", [0, 1])
def test_native_matches_torch_scatter_with_gradients(reduce: str, dim: int, float64: None) -> None:
    pytest.importorskip("torch_scatter")
    src = torch.randn(200, 16) if dim == 0 else torch.randn(16, 200)
    index = torch.randint(0, 30, (200,))
    outs, grads = [], []
    for backend in ("native", "torch_scatter"):
        leaf = src.clone().requires_grad_()
        out = scatter(leaf, index, dim=dim, dim_size=33, reduce=reduce, backend=backend)
        (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
        grads.append(leaf.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


def test_auto_equals_both_backends() -> None:
    pytest.importorskip("torch_scatter")
    src, index = torch.randn(100, 8), torch.randint(0, 10, (100,))
    auto = scatter(src, index, dim_size=10)
    torch.testing.assert_close(auto, scatter(src, index, dim_size=10, backend="native"))
    torch.testing.assert_close(auto, scatter(src, index, dim_size=10, backend="torch_scatter"))


def test_invalid_inputs() -> None:
    src = torch.randn(5, 3)
    with pytest.raises(ValueError, match="index contains 5"):
        scatter(src, torch.tensor([0, 1, 2, 3, 5]), dim_size=5)
    with pytest.raises(ValueError, match="index contains -1"):
        scatter(src, torch.tensor([0, 1, -1, 3, 4]))
    with pytest.raises(ValueError, match="does not match"):
        scatter(src, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="does not match"):
        scatter(src, torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        scatter(src, torch.zeros(5))
    with pytest.raises(ValueError, match="reduce"):
        scatter(src, torch.zeros(5, dtype=torch.long), reduce="prod")
    with pytest.raises(ValueError, match="dim=2"):
        scatter(src, torch.zeros(5, dtype=torch.long), dim=2)
    with pytest.raises(ValueError, match="dim_size"):
        scatter(src, torch.zeros(5, dtype=torch.long), dim_size=-1)
    with pytest.raises(ValueError, match="backend"):
        scatter(src, torch.zeros(5, dtype=torch.long), backend="cuda")
