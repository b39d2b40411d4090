"""Variance-preserving fully connected network (e3nn's FullyConnectedNet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from e3lab.math import normalize2mom


class _Layer(torch.nn.Module):
    """One bias-free layer ``x @ W / sqrt(h_in var_in / var_out)`` with ``W ~ N(0, 1)`` and optional act.

    With an activation the scaling is split: ``act(x @ W / sqrt(h_in var_in)) * sqrt(var_out)``.
    Forward: ``x: [..., h_in] -> [..., h_out]``.
    """

    def __init__(
        self,
        h_in: int,
        h_out: int,
        act: torch.nn.Module | None,
        var_in: float,
        var_out: float,
    ) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(h_in, h_out))
        self.act = act
        self.h_in = h_in
        self.h_out = h_out
        self.var_in = var_in
        self.var_out = var_out

    def matrix(self) -> torch.Tensor:
        """``[h_in, h_out]``: the layer's normalised matrix when it has no activation (``x @ matrix()``)."""
        return self.weight / (self.h_in * self.var_in / self.var_out) ** 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.act is None:
            return x @ self.matrix()
        x = x @ (self.weight / (self.h_in * self.var_in) ** 0.5)
        return self.act(x) * self.var_out**0.5

    def extra_repr(self) -> str:
        act = None if self.act is None else getattr(self.act.f, "__name__", type(self.act.f).__name__)
        return f"{self.h_in}->{self.h_out}, act={act}"


class FullyConnectedNet(torch.nn.Sequential):
    r"""Multi-layer perceptron without biases whose activations keep a unit second moment.

    Weights are ``N(0, 1)`` and each layer divides by ``sqrt(fan_in)``; ``act`` is wrapped by
    :class:`~e3lab.math.normalize2mom`, so N(0, ``variance_in``) inputs give outputs of second
    moment ~``variance_out``. The children are ``layer0, layer1, ...`` with a ``weight`` of shape
    ``[h_in, h_out]`` each, the same state-dict layout as e3nn's ``FullyConnectedNet``, so an e3nn
    state dict loads directly with ``load_state_dict``.

    Args:
        hs: sizes ``[h_in, hidden..., h_out]`` (at least two entries).
        act: elementwise activation of the hidden layers (``None``: linear network).
        variance_in: second moment of the input.
        variance_out: second moment wanted for the output.
        out_act: also apply ``act`` after the last layer.

    Forward: ``x: [..., hs[0]] -> [..., hs[-1]]``.
    """

    def __init__(
        self,
        hs: Sequence[int],
        act: Callable[[torch.Tensor], torch.Tensor] | None = None,
        variance_in: float = 1,
        variance_out: float = 1,
        out_act: bool = False,
    ) -> None:
        super().__init__()
        if len(hs) < 2 or any(not isinstance(h, int) or h < 1 for h in hs):
            raise ValueError(f"hs={list(hs)!r} must list at least two positive int sizes, e.g. [3, 16, 8]")
        self.hs = list(hs)
        normalized = normalize2mom(act) if act is not None else None
        var_in = variance_in
        n_layers = len(self.hs) - 1
        for i, (h_in, h_out) in enumerate(zip(self.hs[:-1], self.hs[1:], strict=True)):
            last = i == n_layers - 1
            var_out = variance_out if last else 1
            layer_act = normalized if (out_act or not last) else None
            self.add_module(f"layer{i}", _Layer(h_in, h_out, layer_act, var_in, var_out))
            var_in = var_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [..., hs[0]] -> [..., hs[-1]]``."""
        self._check(x)
        return super().forward(x)

    def hidden_and_last_matrix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hidden, matrix)`` with ``hidden @ matrix == self(x)``: the last layer left as a matrix.

        ``x: [..., hs[0]]`` -> ``hidden: [..., hs[-2]]`` (the input itself for a one-layer net),
        ``matrix: [hs[-2], hs[-1]]``; for consumers that apply the last layer themselves (fused into a tensor
        product). Needs a last layer without activation (``out_act=False``).
        """
        self._check(x)
        layers = list(self.children())
        if layers[-1].act is not None:
            raise ValueError(
                f"FullyConnectedNet{self.hs} has an activation after its last layer (out_act=True)"
            )
        for layer in layers[:-1]:
            x = layer(x)
        return x, layers[-1].matrix()

    def _check(self, x: torch.Tensor) -> None:
        if x.shape[-1] != self.hs[0]:
            raise ValueError(
                f"FullyConnectedNet{self.hs} expects inputs of shape [..., {self.hs[0]}], got {list(x.shape)}"
            )
        weight = self.layer0.weight
        if x.dtype != weight.dtype:
            raise TypeError(
                f"FullyConnectedNet{self.hs} has {weight.dtype} weights but x is {x.dtype}: cast one to the "
                f"other (module.to({x.dtype}) or x.to({weight.dtype}))"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.hs}"
