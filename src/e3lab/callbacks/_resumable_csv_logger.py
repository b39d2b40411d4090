"""A CSV logger whose ``metrics.csv`` survives a kill and continues, without duplicates, on resume."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import yaml
from lightning.fabric.loggers.csv_logs import _ExperimentWriter as _FabricExperimentWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from typing_extensions import override

from e3lab.callbacks._atomic_files import atomic_write_text

__all__ = ["ResumableCSVLogger", "read_metrics_rows"]


def read_metrics_rows(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    """``(header, rows)`` of a ``metrics.csv``, without a torn last line (a kill during an append).

    A line counts as torn when the file does not end with a newline or the line has too few fields.
    """
    with open(path, newline="") as file:
        text = file.read()
    if not text:
        return [], []
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    rows = [row for row in reader if None not in row.values() and None not in row]
    return header, rows


class _KillSafeWriter(ExperimentWriter):
    """Lightning's CSV writer, made safe against kills and resumable.

    - ``keep=False``: a fresh run; an old ``metrics.csv`` in the directory is deleted (Lightning's
      behaviour).
    - ``keep=True``: a resumed run; the old rows are kept, except those at or after the first step this
      process logs (a killed run logged them after its last checkpoint; this run logs them again).
    - Rows are appended and flushed at every ``save``; a header change rewrites the file atomically.
      ``hparams.yaml`` is written atomically, and only when it changes.
    """

    def __init__(self, log_dir: str, keep: bool) -> None:
        self._keep = keep
        self._cut_pending = keep
        super().__init__(log_dir=log_dir)
        self._hparams_written: str | None = None

    @override
    def _check_log_dir_exists(self) -> None:
        if not self._keep:
            super()._check_log_dir_exists()
        elif os.path.isfile(self.metrics_file_path):
            self.metrics_keys = sorted(read_metrics_rows(self.metrics_file_path)[0])

    @override
    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        self._write_hparams()

    @override
    def log_metrics(self, metrics_dict: dict[str, float], step: int | None = None) -> None:
        if self._cut_pending and step is not None:
            self._cut_pending = False
            self._drop_rows_from(step)
        super().log_metrics(metrics_dict, step)

    @override
    def save(self) -> None:
        self._write_hparams()
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        if new_keys or not os.path.isfile(self.metrics_file_path):
            old = (
                read_metrics_rows(self.metrics_file_path)[1] if os.path.isfile(self.metrics_file_path) else []
            )
            self._rewrite(old + self.metrics)
        else:
            with open(self.metrics_file_path, "a", newline="") as file:
                csv.DictWriter(file, fieldnames=self.metrics_keys).writerows(self.metrics)
                file.flush()
        self.metrics = []

    def _drop_rows_from(self, step: int) -> None:
        """Remove the rows at ``step`` or later (atomically)."""
        if not os.path.isfile(self.metrics_file_path):
            return
        header, rows = read_metrics_rows(self.metrics_file_path)
        self.metrics_keys = sorted(set(self.metrics_keys) | set(header))
        self._rewrite([row for row in rows if _step(row) < step])

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=self.metrics_keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics_file_path, buffer.getvalue())

    def _write_hparams(self) -> None:
        if not self.hparams:
            return
        text = yaml.safe_dump(_plain(self.hparams), sort_keys=False)
        if text != self._hparams_written:
            atomic_write_text(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), text)
            self._hparams_written = text


def _step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "inf")
    except ValueError:
        return float("inf")


def _plain(value: Any) -> Any:
    """Containers of YAML-safe values (tensors as numbers or lists, other objects as strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Tensor):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` that loses no row to a kill and, resumed, continues the same ``metrics.csv``.

    Args:
        append: resume mode: keep the rows of an existing ``<log_dir>/metrics.csv``, except those at or
            after the first step this run logs (steps a killed run logged after its last checkpoint, which
            the resumed run logs again), so every step appears once. ``train.py`` sets it to ``True`` when
            it resumes (``ckpt_path=...`` or ``resume=auto`` with a checkpoint); set it before the logger
            first writes. With ``False`` (the default) an old ``metrics.csv`` is deleted, as Lightning does.
        **kwargs: the arguments of :class:`lightning.pytorch.loggers.CSVLogger`.

    Every ``log_metrics`` call is written to disk at once (Lightning buffers 100 steps, which a kill
    loses); a header change rewrites the file atomically, and a line torn by a kill is dropped on resume.
    Hand-written because Lightning's CSV logger deletes an existing file and buffers its rows.
    """

    def __init__(self, *args: Any, append: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.append = append

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> _FabricExperimentWriter:
        """The writer (kept rows when ``append``)."""
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _KillSafeWriter(log_dir=self.log_dir, keep=self.append)
        return self._experiment

    @override
    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Tensor | float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.save()
