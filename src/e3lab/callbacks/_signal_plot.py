"""Draw the shapes task's predictions: displacement arrows and the spherical signals of chosen nodes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from matplotlib.figure import Figure
from typing_extensions import override

from e3lab.callbacks._graph_inputs import GraphInputs, graph_inputs, model_dtype_device
from e3lab.callbacks._run_files import log_image, run_dir
from e3lab.signal import find_peaks, plot_signal_3d, plot_task

__all__ = ["SignalPlotCallback", "signal_lmax"]


def signal_lmax(irreps: Any) -> int | None:
    """``lmax`` when ``irreps`` is a spherical signal ``1x0e + 1x1o + ... + 1x(lmax)p``, else ``None``."""
    layout = [(mul, ir.l, ir.p) for mul, ir in irreps]
    expected = [(1, l, (-1) ** l) for l in range(len(layout))]
    return len(layout) - 1 if layout and layout == expected else None


class SignalPlotCallback(pl.Callback):
    """After validation, plot the first validation graph of a task whose outputs are spherical signals.

    Args:
        every_n_val_epochs: plot after every n-th validation epoch (sanity checks excluded).
        nodes: nodes of the first graph whose signals are drawn in 3D (missing ones are skipped).
        lmax: draw the signals truncated to this degree (the full output by default).
        normalization: of the spherical harmonics the signals are built with (``"integral"``).

    Needs ``net.irreps_out`` laid out as a signal (``0e + 1o + 2e + ...``, see :func:`signal_lmax`)
    and a ``node_target`` that is either a signal of the same layout (its highest peak is the target
    displacement, as in the symmetry tutorial) or a displacement ``[N, 3]``; otherwise it logs once
    that it skips and does nothing. Draws the tutorial's arrow plot (start shape, target shape, and
    the predicted displacements from :func:`e3lab.signal.find_peaks` in red) and, per chosen node,
    its target and predicted signals around the node (``plot_signal_3d``). Writes
    ``<run dir>/plots/epoch_XXX_task.png`` and ``epoch_XXX_node_<i>.png``, and logs them as images
    (``signal/task``, ``signal/node_<i>``; ``wandb.Image`` with a W&B logger).
    """

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        nodes: Sequence[int] = (0, 1, 2, 3),
        lmax: int | None = None,
        normalization: str = "integral",
    ) -> None:
        if not isinstance(every_n_val_epochs, int) or every_n_val_epochs < 1:
            raise ValueError(f"every_n_val_epochs={every_n_val_epochs!r} must be an int >= 1")
        if lmax is not None and (not isinstance(lmax, int) or lmax < 0):
            raise ValueError(f"lmax={lmax!r} must be None or an int >= 0")
        self.every_n_val_epochs = every_n_val_epochs
        self.nodes = tuple(int(i) for i in nodes)
        self.lmax = lmax
        self.normalization = normalization
        self.written: list[Path] = []
        self._batch: Any = None
        self._val_epochs = 0
        self._skip_reason: str | None = None

    @override
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking:
            self._batch = batch

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._batch is None or self._skip_reason is not None:
            return
        self._val_epochs += 1
        if self._val_epochs % self.every_n_val_epochs != 0:
            return
        net, batch, self._batch = getattr(pl_module, "net", None), self._batch, None
        self._skip_reason = _unsupported(net, batch)
        if self._skip_reason is not None:
            rank_zero_info(f"SignalPlotCallback: not plotting, {self._skip_reason}")
            return
        if trainer.is_global_zero:
            self._plot(trainer, net, batch)

    def _plot(self, trainer: pl.Trainer, net: torch.nn.Module, batch: Any) -> None:
        inputs = graph_inputs(batch)
        first = _first_graph(inputs).cpu()
        lmax = signal_lmax(net.irreps_out)
        size = (lmax + 1) ** 2 if self.lmax is None else (min(self.lmax, lmax) + 1) ** 2
        start = inputs.pos.detach().double().cpu()[first]
        predicted = _predict(net, inputs).double().cpu()[first, :size]
        target = batch.node_target.detach().double().cpu()[first]
        target_is_signal = target.shape[-1] != 3
        target = target[:, :size] if target_is_signal else target
        target_shift = self._peaks(target) if target_is_signal else target
        epoch = trainer.current_epoch
        stem = run_dir(trainer) / "plots" / f"epoch_{epoch:03d}"
        figures = {
            "task": plot_task(
                start, start + target_shift, self._peaks(predicted), title=f"epoch {epoch}: predicted in red"
            )
        }
        for node in self.nodes:
            if node < start.shape[0]:
                signals = {"target": target[node]} if target_is_signal else {}
                signals["predicted"] = predicted[node]
                figures[f"node_{node}"] = self._node_figure(
                    signals, start[node], f"epoch {epoch}, node {node}"
                )
        for name, fig in figures.items():
            path = Path(f"{stem}_{name}.png")
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=80)
            self.written.append(path)
            log_image(trainer, f"signal/{name}", path)

    def _peaks(self, signals: torch.Tensor) -> torch.Tensor:
        """The highest peak of each signal ``[N, dim]`` as a vector ``[N, 3]`` (zero when it has none)."""
        peaks, mask = find_peaks(signals, normalization=self.normalization, padded=True)
        return peaks[:, 0] * mask[:, :1] if peaks.shape[1] > 0 else signals.new_zeros(signals.shape[0], 3)

    def _node_figure(self, signals: dict[str, torch.Tensor], center: torch.Tensor, title: str) -> Figure:
        fig = Figure(figsize=(5 * len(signals), 5), layout="constrained")
        for i, (name, coeffs) in enumerate(signals.items()):
            ax = fig.add_subplot(1, len(signals), i + 1, projection="3d")
            plot_signal_3d(coeffs, center=center, ax=ax, res=24, normalization=self.normalization)
            ax.set_title(f"{title}: {name}")
        return fig


def _unsupported(net: Any, batch: Any) -> str | None:
    """Why this module/batch cannot be plotted, or ``None`` when it can."""
    irreps_out = getattr(net, "irreps_out", None)
    if irreps_out is None or signal_lmax(irreps_out) is None:
        return f"net.irreps_out={irreps_out} is not a spherical signal 0e + 1o + 2e + ..."
    target = getattr(batch, "node_target", None)
    if not isinstance(target, torch.Tensor) or target.shape[-1] not in (3, irreps_out.dim):
        shape = None if not isinstance(target, torch.Tensor) else tuple(target.shape)
        return (
            f"batch.node_target (shape {shape}) is neither a signal [N, {irreps_out.dim}] nor a vector [N, 3]"
        )
    return None


@torch.no_grad()
def _predict(net: torch.nn.Module, inputs: GraphInputs) -> torch.Tensor:
    dtype, device = model_dtype_device(net)
    was_training = net.training
    net.eval()
    try:
        return net(*inputs.to(device=device, dtype=dtype))
    finally:
        net.train(was_training)


def _first_graph(inputs: GraphInputs) -> torch.Tensor:
    """Indices of the nodes of graph 0: ``[n0]``."""
    if inputs.batch is None:
        return torch.arange(inputs.pos.shape[0], device=inputs.pos.device)
    return (inputs.batch == 0).nonzero()[:, 0]
