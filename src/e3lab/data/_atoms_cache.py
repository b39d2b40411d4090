"""On-disk cache of preprocessed structures: content-hashed keys, atomic writes, compact tensor files.

Entries are written with :func:`~e3lab.data._atomic_write.atomic_write`, so a run killed mid-write
leaves the old entry or none, never a half-written one. Entries are read with
``torch.load(weights_only=True)``; an unreadable entry counts as a miss and is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from e3lab.data._atomic_write import atomic_write
from e3lab.graph import AtomsGraph

__all__ = [
    "cache_key",
    "default_cache_dir",
    "file_digest",
    "load_graphs",
    "load_json",
    "save_graphs",
    "save_json",
]

# bump when the layout of a cache entry (or the meaning of its contents) changes
CACHE_VERSION = 1
_TARGETS = ("energy", "forces", "stress")


def default_cache_dir() -> Path:
    """``$E3LAB_CACHE_DIR/data``, default ``~/.cache/e3lab/data``: generated data sets and graph caches."""
    root = os.environ.get("E3LAB_CACHE_DIR") or Path.home() / ".cache" / "e3lab"
    return Path(root) / "data"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (and the cache version)."""
    text = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically."""
    text = json.dumps(data, indent=1, sort_keys=True).encode()
    atomic_write(path, lambda f: f.write(text))


def load_json(path: str | Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _pack(graphs: Sequence[AtomsGraph]) -> dict[str, torch.Tensor]:
    tensors = {
        "atom_ptr": torch.tensor([0, *torch.cumsum(torch.tensor([g.num_atoms for g in graphs]), 0).tolist()]),
        "edge_ptr": torch.tensor(
            [0, *torch.cumsum(torch.tensor([g.edge_index.shape[1] for g in graphs]), 0).tolist()]
        ),
        "pos": torch.cat([g.pos for g in graphs]),
        "species": torch.cat([g.species for g in graphs]),
        "cell": torch.stack([g.cell for g in graphs]),
        "pbc": torch.stack([g.pbc for g in graphs]),
        "edge_index": torch.cat([g.edge_index for g in graphs], dim=1),
        "edge_shift": torch.cat([g.edge_shift for g in graphs]),
    }
    for name in _TARGETS:
        values = [getattr(g, name) for g in graphs]
        if all(v is not None for v in values):
            tensors[name] = torch.cat(values) if name == "forces" else torch.stack(values)
    return tensors


def _unpack(tensors: dict[str, torch.Tensor]) -> list[AtomsGraph]:
    atom_ptr, edge_ptr = tensors["atom_ptr"].tolist(), tensors["edge_ptr"].tolist()
    graphs = []
    for k in range(len(atom_ptr) - 1):
        atoms, edges = slice(atom_ptr[k], atom_ptr[k + 1]), slice(edge_ptr[k], edge_ptr[k + 1])
        targets = {}
        for name in _TARGETS:
            if name in tensors:
                targets[name] = tensors[name][atoms] if name == "forces" else tensors[name][k]
        graphs.append(
            AtomsGraph(
                pos=tensors["pos"][atoms],
                species=tensors["species"][atoms],
                cell=tensors["cell"][k],
                pbc=tensors["pbc"][k],
                edge_index=tensors["edge_index"][:, edges],
                edge_shift=tensors["edge_shift"][edges],
                **targets,
            )
        )
    return graphs


def save_graphs(path: str | Path, graphs: Sequence[AtomsGraph]) -> None:
    """Write ``graphs`` to ``path`` atomically (one file of concatenated tensors)."""
    buffer = io.BytesIO()
    torch.save({"version": CACHE_VERSION, "tensors": _pack(graphs)}, buffer)
    data = buffer.getvalue()
    atomic_write(path, lambda f: f.write(data))


def load_graphs(path: str | Path) -> list[AtomsGraph] | None:
    """The graphs saved at ``path``; None when the entry is missing, from another version or unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, weights_only=True)
        if entry.get("version") != CACHE_VERSION:
            return None
        return _unpack(entry["tensors"])
    except Exception as err:  # a damaged entry is rebuilt, not trusted
        warnings.warn(f"ignoring unreadable cache entry {str(path)!r} ({err}); rebuilding it", stacklevel=2)
        return None
