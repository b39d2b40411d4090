"""A checkpoint writer that never leaves a half-written file under the final name."""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO
from typing_extensions import override

from e3lab.callbacks._atomic_files import atomic_write

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file in the target directory, then ``os.replace`` it.

    ``os.replace`` is atomic on POSIX and Windows when source and target share a file system, so a
    run killed mid-save (SIGKILL, out of memory, full disk) keeps the previous ``last.ckpt``
    loadable, and a reader never sees a truncated file. The data is flushed and fsynced before the
    rename. Remote paths (``s3://...``) fall back to Lightning's default writer.

    Use: ``Trainer(plugins=[AtomicCheckpointIO()])``.
    """

    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                f"storage_options={storage_options!r} is not supported by AtomicCheckpointIO; "
                "call Trainer.save_checkpoint without it"
            )
        if not _is_local(path):
            super().save_checkpoint(checkpoint, path)
            return
        atomic_write(path, lambda f: torch.save(checkpoint, f))


def _is_local(path: _PATH) -> bool:
    protocol = get_filesystem(path).protocol
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols
