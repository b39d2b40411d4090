"""Print a closing summary of a run: final metrics, equivariance error, timing breakdown, run directory."""

from __future__ import annotations

import io
import math

import lightning.pytorch as pl
from rich.console import Console
from rich.table import Table
from typing_extensions import override

from e3lab.callbacks._equivariance import EquivarianceCallback
from e3lab.callbacks._run_files import run_dir
from e3lab.callbacks._timing import TimingCallback
from e3lab.callbacks._timing_report import phase_labels, timing_rows

__all__ = ["SummaryCallback"]

_OWN_PREFIXES = ("equivariance/", "timing/")


class SummaryCallback(pl.Callback):
    """At the end of ``fit`` and ``test``, print rich tables of the run and save them as text.

    Shows the final logged metrics (``trainer.callback_metrics``), the latest equivariance errors
    and timing breakdown (from an :class:`EquivarianceCallback` / :class:`TimingCallback` on the same
    trainer, else from the logged ``equivariance/*`` and ``timing/*`` metrics), the checkpoints and
    the run directory. Rank zero only; the same text goes to ``<run dir>/summary_<fit|test>.txt``.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._summarise(trainer, "fit")

    @override
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._summarise(trainer, "test")

    def _summarise(self, trainer: pl.Trainer, stage: str) -> None:
        if not trainer.is_global_zero:
            return
        recorder = Console(record=True, width=100, file=io.StringIO())
        for renderable in self.tables(trainer, stage):
            recorder.print(renderable)
        text = recorder.export_text()
        (self.console or Console()).print(text, markup=False, highlight=False, end="")
        directory = run_dir(trainer)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"summary_{stage}.txt").write_text(text)

    def tables(self, trainer: pl.Trainer, stage: str) -> list[Table]:
        """The summary's tables for ``trainer`` after ``stage`` (``"fit"`` or ``"test"``)."""
        metrics = {
            name: float(value) for name, value in trainer.callback_metrics.items() if value.numel() == 1
        }
        tables = [_key_values(f"{stage}: final metrics", _without_own(metrics))]
        equivariance = _equivariance(trainer, metrics)
        if equivariance:
            tables.append(_key_values("equivariance (relative error)", equivariance))
        breakdown = next((cb.last_breakdown for cb in _callbacks(trainer, TimingCallback)), {})
        if breakdown:
            tables.append(_timing_table(breakdown))
        run = {"run dir": str(run_dir(trainer).resolve())}
        checkpoint = trainer.checkpoint_callback
        for attribute in ("best_model_path", "last_model_path"):
            if getattr(checkpoint, attribute, ""):
                run[attribute.replace("_model_path", " checkpoint")] = getattr(checkpoint, attribute)
        tables.append(_key_values("run", run))
        return tables


def _callbacks(trainer: pl.Trainer, kind: type) -> list:
    return [cb for cb in trainer.callbacks if isinstance(cb, kind)]


def _without_own(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.startswith(_OWN_PREFIXES)}


def _equivariance(trainer: pl.Trainer, metrics: dict[str, float]) -> dict[str, float]:
    errors = next((cb.last_errors for cb in _callbacks(trainer, EquivarianceCallback) if cb.last_errors), {})
    errors = errors or {k: v for k, v in metrics.items() if k.startswith("equivariance/")}
    return {k.removeprefix("equivariance/"): v for k, v in errors.items()}


def _key_values(title: str, values: dict[str, float | str]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("name")
    table.add_column("value", justify="right", overflow="fold")
    for name, value in sorted(values.items()):
        table.add_row(name, value if isinstance(value, str) else _number(value))
    return table


def _timing_table(breakdown: dict[str, dict[str, float]]) -> Table:
    table = Table(title="timing per stage (last profiled step)", title_justify="left")
    for column in (
        "stage",
        *(f"{label} ms" for label in phase_labels(breakdown).values()),
        "total ms",
        "share",
    ):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, *times, share in timing_rows(breakdown):
        table.add_row(str(stage), *(f"{t:.3f}" for t in times), f"{100 * share:.1f}%")
    return table


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) and value != 0 else str(value)
