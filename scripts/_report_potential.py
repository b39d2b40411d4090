"""What ``scripts/report.py`` adds for an interatomic-potential experiment: learning curves of the force
error against steps and wall time, parity plots of the test set, and the metrics that go in the table.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch
from matplotlib.figure import Figure

Rows = list[dict[str, float]]

FORCE_MAE = "forces_mae_mev_per_a"
ENERGY_MAE = "energy_mae_mev_per_atom"
# metrics of a potential's report table (prefixes), besides test/*
TABLE_PREFIXES = ("equivariance/", "physics/", "time/")
# the index's key numbers
KEY_METRICS = (
    f"test/{ENERGY_MAE}",
    f"test/{FORCE_MAE}",
    "equivariance/max_rel_error",
    "physics/force_fd_rel_error",
)
CAPTIONS = {
    "loss.png": "Training loss per logged step: the weighted MSE of energy per atom and force components.",
    "learning_curves.png": "Force MAE (meV/A, force components) of the validation set (and of the "
    "training batches, averaged per epoch) against training steps (left) and wall time since the start of "
    "fit (right).",
    "parity.png": "Test set: predicted against reference energy per atom (left) and force components "
    "(right), from the checkpoint the test used.",
    "timing.png": "One profiled force-training step per stage: the energy forward, the forces (-dE/dpos with "
    "create_graph, the first backward) and the loss's backward through the forces (the double backward).",
}
# claims of every potential experiment, besides its force MAE: float64 checks of the trained model
SYMMETRY_TOLERANCE = 1e-9
FD_TOLERANCE = 1e-6


def potential_pass(metrics: dict[str, float], force_mae: float) -> bool:
    """Test force MAE below ``force_mae`` meV/A, every symmetry error below :data:`SYMMETRY_TOLERANCE` and
    the force finite-difference error below :data:`FD_TOLERANCE`."""
    return (
        metrics[f"test/{FORCE_MAE}"] < force_mae
        and metrics["equivariance/max_rel_error"] < SYMMETRY_TOLERANCE
        and metrics["physics/force_fd_rel_error"] < FD_TOLERANCE
    )


def learning_curves(rows: Rows, path: Path) -> bool:
    """``val/`` (and ``train/``) force MAE against ``step`` and against ``time/elapsed_s``; False without
    data."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    by_step, by_time = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    plotted = False
    for stage, style in (("train", "--"), ("val", "-o")):
        key = f"{stage}/{FORCE_MAE}"
        points = [r for r in rows if key in r and "step" in r]
        if not points:
            continue
        plotted = True
        by_step.semilogy(
            [r["step"] for r in points], [r[key] for r in points], style, label=stage, markersize=3
        )
        timed = [r for r in points if "time/elapsed_s" in r]
        if timed:
            by_time.semilogy(
                [r["time/elapsed_s"] for r in timed],
                [r[key] for r in timed],
                style,
                label=stage,
                markersize=3,
            )
    if not plotted:
        return False
    for ax, label in ((by_step, "training step"), (by_time, "wall time since fit start (s)")):
        ax.set_xlabel(label)
        ax.set_ylabel("force MAE (meV/A)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)
    return True


def predict_test_set(run_dir: Path) -> dict[str, torch.Tensor]:
    """Reference and predicted energies per atom (eV) and force components (eV/A) of the run's test set,
    from ``checkpoints/best.ckpt`` (else ``last.ckpt``), in the run's dtype."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from e3lab._run import register_resolvers
    from e3lab.eval import _model_class

    register_resolvers()
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    if cfg.get("float64"):
        torch.set_default_dtype(torch.float64)
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    ckpt = ckpt if ckpt.is_file() else run_dir / "checkpoints" / "last.ckpt"
    model = _model_class(ckpt).load_from_checkpoint(ckpt, map_location="cpu").eval()
    dm = instantiate(cfg.data)
    dm.setup("test")
    parts: dict[str, list[torch.Tensor]] = {"energy": [], "energy_pred": [], "forces": [], "forces_pred": []}
    for batch in dm.test_dataloader():
        out = model.predict(batch, forces=True)
        atoms = batch.num_atoms.to(out["energy"])
        parts["energy"].append(batch.energy / atoms)
        parts["energy_pred"].append(out["energy"].detach() / atoms)
        parts["forces"].append(batch.forces.flatten())
        parts["forces_pred"].append(out["forces"].detach().flatten())
    return {k: torch.cat(v).double() for k, v in parts.items()}


def parity_plot(values: dict[str, torch.Tensor], path: Path) -> None:
    """Predicted against reference: energy per atom (eV/atom) and force components (eV/A), with MAEs."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    for k, (key, unit, milli) in enumerate((("energy", "eV/atom", "meV/atom"), ("forces", "eV/A", "meV/A"))):
        ax = fig.add_subplot(1, 2, k + 1)
        ref, pred = values[key].numpy(), values[f"{key}_pred"].numpy()
        lo, hi = min(ref.min(), pred.min()), max(ref.max(), pred.max())
        ax.plot([lo, hi], [lo, hi], color="tab:gray", linewidth=1)
        ax.scatter(ref, pred, s=4 if key == "energy" else 1, alpha=0.6)
        mae = 1000 * abs(pred - ref).mean()
        ax.set_title(f"{'energy per atom' if key == 'energy' else 'force components'}: MAE {mae:.3g} {milli}")
        ax.set_xlabel(f"reference ({unit})")
        ax.set_ylabel(f"predicted ({unit})")
        ax.set_aspect("equal")
    fig.savefig(path, dpi=110)


def potential_figures(run_dir: Path, rows: Rows, out_dir: Path) -> list[str]:
    """``learning_curves.png`` and ``parity.png`` in ``out_dir``; returns the names written."""
    figures = ["learning_curves.png"] if learning_curves(rows, out_dir / "learning_curves.png") else []
    parity_plot(predict_test_set(run_dir), out_dir / "parity.png")
    return [*figures, "parity.png"]


def time_per_step(rows: Rows) -> dict[str, float]:
    """``training time per step (ms)``: the median over epochs of the logged ``time/train_step_ms``."""
    values = [r["time/train_step_ms"] for r in rows if "time/train_step_ms" in r]
    return {"training time per step (ms, median over epochs)": statistics.median(values)} if values else {}
