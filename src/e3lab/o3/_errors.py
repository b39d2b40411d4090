"""Error types of the o3 layers that are also the exception classes e3nn raises for the same input.

Each is a ``ValueError`` (e3lab's convention for bad input) and, in addition, the built-in class e3nn 0.6.0
raises in the same situation, so code written against e3nn that catches those keeps working.
"""

from __future__ import annotations

__all__ = ["InstructionError", "InstructionIndexError", "WeightError"]


class InstructionError(ValueError, AssertionError):
    """An instruction the irreps cannot carry out (selection rule, multiplicities, mode): e3nn asserts."""


class InstructionIndexError(ValueError, IndexError):
    """An instruction that names a term outside the irreps: e3nn raises ``IndexError``."""


class WeightError(ValueError, RuntimeError):
    """Weights missing or of the wrong shape: e3nn raises ``RuntimeError`` (``torch.jit.Error`` scripted)."""
