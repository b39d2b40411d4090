"""The energy plot of an MD run: kinetic, potential and total energy against time, and the total's drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from e3lab.calculator._dynamics import MDResult

__all__ = ["plot_md_energies"]


def plot_md_energies(
    result: MDResult,
    path: str | Path,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    reference_name: str = "EMT",
) -> Path:
    """Write ``path`` (PNG): top, kinetic, potential and total energy per atom against time, measured from the
    initial potential energy (meV/atom); bottom, the total energy's change from step 0 with its least-squares
    drift line.

    ``reference``: ``(time_fs, potential_energy)`` of trajectory frames recomputed with the reference
    potential (e.g. EMT for a potential trained on EMT labels), drawn with the model's potential energy and
    measured from the same origin (so a constant offset between the two shows).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(result.num_atoms, 1)
    t_ps = np.asarray(result.time_fs) * 1e-3
    origin = result.potential[0] if result.potential else 0.0
    potential = (np.asarray(result.potential) - origin) / n * 1e3
    kinetic, total = np.asarray(result.kinetic) / n * 1e3, (result.total - origin) / n * 1e3
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[2, 1])
    top.plot(t_ps, potential, label="potential (model)", color="tab:blue")
    if reference is not None and len(reference[0]):
        top.plot(
            np.asarray(reference[0]) * 1e-3,
            (np.asarray(reference[1]) - origin) / n * 1e3,
            "o",
            ms=3,
            label=f"potential ({reference_name}, frames)",
            color="tab:cyan",
        )
    top.plot(t_ps, kinetic, label="kinetic", color="tab:red")
    top.plot(t_ps, total, label="total", color="black")
    top.set_ylabel(f"energy - potential(0)\n(meV/atom; potential(0) = {origin / n:.4f} eV/atom)")
    top.legend(loc="center right", fontsize=8, framealpha=0.8)
    title = f"{result.num_atoms} atoms, {result.timestep_fs:g} fs step, {result.steps_done} steps"
    if result.blow_up:
        title += " (stopped: blew up)"
    top.set_title(title)
    if total.size:
        change = total - total[0]
        bottom.plot(t_ps, change, color="black", lw=1)
        if total.size > 1:
            drift = result.drift_mev_per_atom_ps()
            fit = np.polyval(np.polyfit(t_ps, change, 1), t_ps)
            bottom.plot(t_ps, fit, "--", color="tab:orange", label=f"drift {drift:+.3f} meV/atom/ps")
            bottom.legend(loc="best", fontsize=8)
    bottom.set_xlabel("time (ps)")
    bottom.set_ylabel("total - total(0)\n(meV/atom)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
