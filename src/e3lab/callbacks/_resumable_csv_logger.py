"""A CSV logger that keeps the rows of an earlier run in the same directory when training resumes."""

from __future__ import annotations

import csv
from typing import Any

from lightning.fabric.loggers.csv_logs import _ExperimentWriter as _FabricExperimentWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from typing_extensions import override

__all__ = ["ResumableCSVLogger"]


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is kept and appended to.

    Its header seeds the known columns, so new rows go under the same header (a new column rewrites the
    file with the wider header and keeps every row, as Lightning's writer does within one run).
    """

    @override
    def _check_log_dir_exists(self) -> None:
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            header = next(csv.reader(file), [])
        self.metrics_keys = sorted(set(header))


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` that, with ``append=True``, keeps the earlier rows of ``<log_dir>/metrics.csv``.

    Args:
        append: keep an existing ``metrics.csv`` and add the new rows after its rows (one history for a
            run resumed into its own directory). With ``False`` (the default) it behaves like Lightning's
            ``CSVLogger``, which deletes the old file. ``train.py`` sets it to ``True`` when it resumes
            (``ckpt_path=...`` or ``resume=auto`` with a checkpoint); set it before the logger first writes.
        **kwargs: the arguments of :class:`lightning.pytorch.loggers.CSVLogger`.
    """

    def __init__(self, *args: Any, append: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.append = append

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> _FabricExperimentWriter:
        """The writer; with ``append`` one that keeps the existing ``metrics.csv``."""
        if self._experiment is not None:
            return self._experiment
        if not self.append:
            return super().experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
