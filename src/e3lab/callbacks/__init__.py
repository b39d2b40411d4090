"""Lightning callbacks: equivariance error, timing, signal plots, summaries, symmetry report, run safety,
resumable CSV log."""

from e3lab.callbacks._atomic_checkpoint_io import AtomicCheckpointIO
from e3lab.callbacks._atomic_files import atomic_write, atomic_write_text
from e3lab.callbacks._elapsed_time import ElapsedTimeCallback
from e3lab.callbacks._equivariance import EquivarianceCallback, EquivarianceWarning
from e3lab.callbacks._finite_loss_guard import FiniteLossGuard, NonFiniteLossError
from e3lab.callbacks._force_conservation import (
    ForceConservationCallback,
    ForceConservationWarning,
    finite_difference_errors,
)
from e3lab.callbacks._graceful_shutdown import GracefulShutdown
from e3lab.callbacks._last_checkpoint import last_checkpoint_path, save_last_checkpoint
from e3lab.callbacks._potential_equivariance import PotentialEquivarianceCallback
from e3lab.callbacks._potential_symmetry import potential_symmetry_errors
from e3lab.callbacks._random_state import RandomStateCheckpoint
from e3lab.callbacks._resumable_csv_logger import ResumableCSVLogger
from e3lab.callbacks._signal_plot import SignalPlotCallback
from e3lab.callbacks._stage_attribution import attribute_stages
from e3lab.callbacks._step_checkpoint import StepCheckpoint
from e3lab.callbacks._summary import SummaryCallback
from e3lab.callbacks._symmetry_report import SymmetryReportCallback, UnreachableTargetWarning, first_graph
from e3lab.callbacks._timing import TimingCallback, profile_force_step, profile_stages

__all__ = [
    "AtomicCheckpointIO",
    "ElapsedTimeCallback",
    "EquivarianceCallback",
    "EquivarianceWarning",
    "FiniteLossGuard",
    "ForceConservationCallback",
    "ForceConservationWarning",
    "GracefulShutdown",
    "NonFiniteLossError",
    "PotentialEquivarianceCallback",
    "RandomStateCheckpoint",
    "ResumableCSVLogger",
    "SignalPlotCallback",
    "StepCheckpoint",
    "SummaryCallback",
    "SymmetryReportCallback",
    "TimingCallback",
    "UnreachableTargetWarning",
    "atomic_write",
    "atomic_write_text",
    "attribute_stages",
    "finite_difference_errors",
    "first_graph",
    "last_checkpoint_path",
    "potential_symmetry_errors",
    "profile_force_step",
    "profile_stages",
    "save_last_checkpoint",
]
