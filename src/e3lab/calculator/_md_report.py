"""A Markdown report of one MD run: the command, the numbers, the stability goal, the energy plot."""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_md_report"]


def _number(value: Any, digits: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, digits)
    return str(value)


def write_md_report(
    summary: Mapping[str, Any],
    plot: str | Path,
    out_dir: str | Path,
    command: str,
    max_drift: float = 1.0,
    min_pair: float = 1.5,
    min_ps: float = 2.0,
) -> Path:
    """Write ``out_dir/README.md`` (and copy ``plot`` to ``out_dir/energy.png``); return the README's path.

    The goal line checks, for a run of at least ``min_ps`` ps, ``|drift| <= max_drift`` (meV/atom/ps) and
    ``closest pair >= min_pair`` (A).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plot, out_dir / "energy.png")
    drift, closest = summary["drift_mev_per_atom_ps"], summary["closest_pair_a"]
    long_enough = summary["simulated_ps"] >= min_ps - 1e-9
    met = summary.get("blow_up") is None and abs(drift) <= max_drift and closest >= min_pair
    verdict = ("met" if met else "not met") if long_enough else f"not evaluated (shorter than {min_ps:g} ps)"
    rows = [
        ("ensemble", summary["ensemble"], "s"),
        ("atoms", summary["num_atoms"], "d"),
        ("time step (fs)", summary["timestep_fs"], "g"),
        ("steps", summary["steps"], "d"),
        ("simulated time (ps)", summary["simulated_ps"], ".3f"),
        ("total-energy drift (meV/atom/ps, least-squares slope)", drift, "+.4f"),
        (
            "largest change of the total energy from step 0 (meV/atom)",
            summary["max_total_energy_deviation_mev_per_atom"],
            ".4f",
        ),
        ("closest atom pair (A)", closest, ".3f"),
        ("mean temperature (K)", summary["mean_temperature_k"], ".1f"),
        ("neighbour-list builds (skin)", summary.get("neighbour_list_builds", "?"), "d"),
        ("steps/s", summary["steps_per_s"], ".2f"),
        ("ns/day", summary["ns_per_day"], ".4f"),
    ]
    if "reference_potential_mae_mev_per_atom" in summary:
        rows.append(("potential energy vs EMT on the frames, MAE (meV/atom)",
                     summary["reference_potential_mae_mev_per_atom"], ".3f"))  # fmt: skip
    lines = [
        "# Molecular dynamics with the trained potential",
        "",
        "Made by `md.py` (`e3lab.md`) with:",
        "",
        f"    {command}",
        "",
        f"Checkpoint: `{summary['checkpoint']}`.",
        "",
        "| quantity | value |",
        "|---|---|",
        *(f"| {name} | {_number(value, digits)} |" for name, value, digits in rows),
        "",
        f"**Goal** (NVE over {min_ps:g} ps, total-energy drift <= {max_drift:g} meV/atom/ps, no pair closer "
        f"than {min_pair:g} A): **{verdict}**"
        + (f"; the run blew up {summary['blow_up']}" if summary.get("blow_up") else "")
        + ".",
        "",
        "![energies against time](energy.png)",
        "",
    ]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    return path
