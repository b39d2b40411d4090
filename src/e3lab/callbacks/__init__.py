"""Lightning callbacks: equivariance error, per-stage timing, signal plots, summaries and run safety."""

from e3lab.callbacks._atomic_checkpoint_io import AtomicCheckpointIO
from e3lab.callbacks._equivariance import EquivarianceCallback, EquivarianceWarning
from e3lab.callbacks._finite_loss_guard import FiniteLossGuard, NonFiniteLossError
from e3lab.callbacks._graceful_shutdown import GracefulShutdown

__all__ = [
    "AtomicCheckpointIO",
    "EquivarianceCallback",
    "EquivarianceWarning",
    "FiniteLossGuard",
    "GracefulShutdown",
    "NonFiniteLossError",
]
