"""Train/val/test splits of a list of frames, given as counts or fractions with a seed."""

from __future__ import annotations

import numpy as np

__all__ = ["SPLITS", "split_indices"]

SPLITS = ("train", "val", "test")
SplitSize = int | float | None


def _count(name: str, size: SplitSize, total: int) -> int | None:
    """Frames of a split: an int count, a float fraction in (0, 1] of ``total``, or None ("the rest")."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise TypeError(f"{name}={size!r} must be a count (int), a fraction (float in (0, 1]) or null")
    if isinstance(size, float):
        if not 0.0 < size <= 1.0:
            raise ValueError(f"{name}={size} is a fraction and must lie in (0, 1]; give a count as an int")
        return round(size * total)
    if size < 0:
        raise ValueError(f"{name}={size} must be >= 0")
    return size


def split_indices(
    num_frames: int,
    sizes: dict[str, SplitSize],
    seed: int,
    separate: dict[str, int] | None = None,
    file_name: str = "the data file",
) -> dict[str, list[int]]:
    """Sorted frame indices of each split.

    Args:
        num_frames: frames in the main file.
        sizes: ``{"train": ..., "val": ..., "test": ...}``; each a count, a fraction of its file, or None.
            Among the splits taken from the main file, one may be None: it gets the remaining frames.
            Frames beyond the sum of the sizes are left out.
        seed: the permutation of the main file (and the draws from separate files) depends on it only.
        separate: ``{split: frames}`` for splits read from their own file (None there: the whole file).
        file_name: named in error messages.

    Raises:
        ValueError: an empty split, sizes adding up to more frames than there are, two None sizes.
    """
    separate = separate or {}
    rng = np.random.default_rng(seed)
    permutation = rng.permutation(num_frames)
    counts = {s: _count(s, sizes.get(s), num_frames) for s in SPLITS if s not in separate}
    rest = [s for s, c in counts.items() if c is None]
    if len(rest) > 1:
        raise ValueError(
            f"only one split may take 'the rest' (null); {rest} are null: give counts or fractions"
        )
    fixed = sum(c for c in counts.values() if c is not None)
    if fixed > num_frames:
        raise ValueError(
            f"the splits {counts} need {fixed} frames but {file_name} has {num_frames}; lower the counts"
        )
    if rest:
        counts[rest[0]] = num_frames - fixed
    out: dict[str, list[int]] = {}
    start = 0
    for split, count in counts.items():
        out[split] = sorted(permutation[start : start + count].tolist())
        start += count
    for split, total in separate.items():
        count = _count(split, sizes.get(split), total)
        chosen = np.arange(total) if count is None else rng.permutation(total)[:count]
        if count is not None and count > total:
            raise ValueError(f"{split}={sizes.get(split)} asks for {count} frames but its file has {total}")
        out[split] = sorted(chosen.tolist())
    for split in SPLITS:
        if not out[split]:
            raise ValueError(
                f"the {split} split is empty ({split}={sizes.get(split)!r} of {num_frames} frames in "
                f"{file_name}); give {split} >= 1 frame (a count or a fraction) or a separate {split}_file"
            )
    return out
