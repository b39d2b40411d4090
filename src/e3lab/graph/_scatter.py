"""``scatter``: reduce rows of ``src`` into the slots named by ``index`` (torch_scatter's ``scatter``)."""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

from e3lab import _value_checks

_REDUCES = ("sum", "add", "mean", "max", "min")
_BACKENDS = ("auto", "native", "torch_scatter")


def _torch_scatter_supports(device: torch.device) -> bool:
    """Whether torch_scatter is importable and was built for ``device``'s type."""
    if importlib.util.find_spec("torch_scatter") is None:
        return False
    import torch_scatter  # noqa: F401  (registers torch.ops.torch_scatter)

    if device.type == "cpu":
        return True
    return device.type == "cuda" and torch.ops.torch_scatter.cuda_version() != -1


def _check(src: Tensor, index: Tensor, dim: int, dim_size: int | None, reduce: str) -> tuple[int, int]:
    """Validate the arguments; return ``dim`` made non-negative and the output size along it."""
    if not isinstance(src, Tensor) or not isinstance(index, Tensor):
        raise TypeError(f"src and index must be tensors, got {type(src).__name__}, {type(index).__name__}")
    if index.dtype.is_floating_point or index.dtype == torch.bool or index.is_complex():
        raise TypeError(f"index must be an integer tensor, got {index.dtype}; convert it with index.long()")
    if reduce not in _REDUCES:
        raise ValueError(f"reduce must be one of {_REDUCES}, got {reduce!r}")
    if not -src.dim() <= dim < src.dim():
        raise ValueError(f"dim={dim} is out of range for src of shape {tuple(src.shape)}")
    dim = dim % src.dim()
    if index.shape != src.shape and (index.dim() != 1 or index.shape[0] != src.shape[dim]):
        raise ValueError(
            f"index of shape {tuple(index.shape)} does not match src of shape {tuple(src.shape)}: "
            f"expected [{src.shape[dim]}] (one slot per entry along dim={dim}) or src's shape"
        )
    if index.device != src.device:
        raise ValueError(f"index is on {index.device} but src is on {src.device}; move them to one device")
    if dim_size is not None and (not isinstance(dim_size, int | torch.SymInt) or dim_size < 0):
        raise ValueError(f"dim_size must be an int >= 0 or None, got {dim_size!r}")
    if index.numel() == 0:
        return dim, dim_size or 0
    if dim_size is not None and not _value_checks.values_checkable(index):
        return dim, dim_size  # checked where the batch was made; reading it here would sync the GPU
    low, high = (int(v) for v in torch.aminmax(index))
    if dim_size is None:
        dim_size = high + 1
    if low < 0 or high >= dim_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"index contains {bad}, outside [0, {dim_size}); fix index or pass a larger dim_size"
        )
    return dim, dim_size


def _expand(index: Tensor, src: Tensor, dim: int) -> Tensor:
    """A 1-D ``index`` laid along ``dim`` and expanded to ``src``'s shape."""
    if index.dim() == src.dim():
        return index
    shape = [1] * src.dim()
    shape[dim] = -1
    return index.view(shape).expand_as(src)


def _scatter_native(src: Tensor, index: Tensor, dim: int, dim_size: int, reduce: str) -> Tensor:
    shape = list(src.shape)
    shape[dim] = dim_size
    out = src.new_zeros(shape)
    if reduce in ("sum", "add", "mean"):
        out = out.index_add(dim, index, src) if index.dim() == 1 else out.scatter_add(dim, index, src)
        if reduce != "mean":
            return out
        if index.dim() == 1:
            # index_add rather than bincount, which reads index.max() (a host sync on a GPU)
            count = out.new_zeros(dim_size).index_add_(0, index, out.new_ones(index.shape[0]))
            count = count.view([-1 if d == dim else 1 for d in range(out.dim())])
        else:
            count = torch.zeros_like(out).scatter_add_(dim, index, torch.ones_like(src))
        return out / count.clamp(min=1)
    # empty slots keep the 0 they start with, as in torch_scatter
    amax_or_amin = "amax" if reduce == "max" else "amin"
    return out.scatter_reduce(dim, _expand(index, src, dim), src, amax_or_amin, include_self=False)


def scatter(
    src: Tensor,
    index: Tensor,
    dim: int = 0,
    dim_size: int | None = None,
    reduce: str = "sum",
    backend: str = "auto",
) -> Tensor:
    """Reduce the entries of ``src`` that share an ``index`` value, as ``torch_scatter.scatter``.

    Args:
        src: [..., n, ...] values (``n`` at position ``dim``), e.g. edge features ``[E, irreps.dim]``.
        index: [n] target slot of each entry along ``dim`` (e.g. ``edge_dst``), or an integer tensor
            of ``src``'s shape; values in ``[0, dim_size)``.
        dim: the dimension reduced (default 0; note that torch_scatter's default is -1).
        dim_size: the output size along ``dim``; default ``index.max() + 1`` (which reads ``index``: pass
            it in a GPU training step). The range of ``index`` is checked on the CPU; on a GPU (with
            ``dim_size`` given) it is not, so as not to synchronise the host: GPU indices are checked where
            their batch is made.
        reduce: ``"sum"`` (or ``"add"``), ``"mean"``, ``"max"`` or ``"min"``. Slots that receive
            nothing are 0 for every reduction.
        backend: ``"native"`` (``index_add`` / ``scatter_reduce``), ``"torch_scatter"``, or
            ``"auto"`` = native: for ``"sum"`` it measured as fast as torch_scatter or faster,
            forward and backward (``scripts/bench_graph.py``), and needs no extension. For
            ``"max"``/``"min"`` training, torch_scatter's backward is about 2x faster on CPU; on
            ties the native gradient is split evenly, torch_scatter's goes to one entry.

    Returns:
        [..., dim_size, ...] with ``src``'s dtype and device; differentiable in ``src``.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    dim, dim_size = _check(src, index, dim, dim_size, reduce)
    index = index.long()
    if backend == "torch_scatter":
        if not _torch_scatter_supports(src.device):
            raise ValueError(
                f"backend='torch_scatter' but torch_scatter is not installed for {src.device.type}; "
                "install torch-scatter or use backend='native'"
            )
        import torch_scatter

        return torch_scatter.scatter(src, index, dim, dim_size=dim_size, reduce=reduce)
    return _scatter_native(src, index, dim, dim_size, reduce)
