"""The experiments ``scripts/report.py`` runs: what each demonstrates, its claim and how to check it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from _report_potential import potential_pass  # scripts/ is on sys.path

Metrics = dict[str, float]


@dataclass(frozen=True)
class Experiment:
    """What an experiment claims and how to check it from its final metrics."""

    name: str
    demonstrates: str
    claim: str
    check: Callable[[Metrics], bool]
    # an interatomic potential: learning curves, parity plots, symmetry and physics errors in the table
    potential: bool = False


def _reaches_target(m: Metrics) -> bool:
    return m["test/loss"] < 0.01 * m["symmetry/zero_output_loss"] and m["test/displacement_error"] < 0.02


def _stuck_at_floor(m: Metrics) -> bool:
    floor = m["symmetry/loss_floor"]
    return floor > 0 and abs(m["test/loss"] - floor) <= 0.02 * floor and round(m["test/num_peaks"]) == 2


EXPERIMENTS = {
    e.name: e
    for e in (
        Experiment(
            "rect_to_square",
            "The symmetry-breaking tutorial, task 1: an equivariant network moves the corners of a "
            "rectangle onto a square. The rectangle has less symmetry than the square, so the target is "
            "reachable.",
            "test loss < 1% of the all-zero output's loss, displacement error < 0.02",
            _reaches_target,
        ),
        Experiment(
            "square_to_rect",
            "The symmetry-breaking tutorial, task 2: the same network cannot turn a square into a "
            "rectangle: the output of an equivariant model has at least the input's symmetry. The loss "
            "plateaus at the symmetry floor (the target's distance to the outputs the square's symmetry "
            "group allows), and each node's signal shows two symmetric peaks instead of one.",
            "test loss within 2% of the symmetry floor, 2 peaks per node",
            _stuck_at_floor,
        ),
        Experiment(
            "square_to_rect_broken",
            "The symmetry-breaking tutorial, task 3: an l=2 input proportional to x^2 - y^2 on every "
            "node breaks the square's symmetry down to the rectangle's, and the network reaches the target.",
            "test loss < 1% of the all-zero output's loss, displacement error < 0.02",
            _reaches_target,
        ),
        Experiment(
            "tetris",
            "e3nn's tetris: 8 shapes classified under random rotations; test shapes are freshly rotated and "
            "half of them mirrored (a mirrored chiral_1 is a chiral_2), told apart by an odd scalar output.",
            "100% test accuracy",
            lambda m: m["test/acc"] == 1.0,
        ),
        Experiment(
            "random_clouds",
            "The convolution guide: node regression of a fixed random teacher network on random point clouds "
            "('10x0e + 10x1e' inputs, '20x0e + 10x1e' outputs).",
            "test R^2 > 0.5 (the student learns the teacher; predicting the mean gives R^2 = 0)",
            lambda m: m["test/r2"] > 0.5,
        ),
        Experiment(
            "emt_cu",
            "An interatomic potential of bulk copper: energies, forces (-dE/dr) and stress of rattled "
            "and molecular-dynamics (300, 800, 1300 K) supercells labelled by ASE's EMT, learned by an "
            "equivariant network. The checks show that the trained model is E(3)-invariant with periodic "
            "images and that its forces are conservative.",
            "test force MAE < 50 meV/A; symmetry errors < 1e-9 and force finite-difference error < 1e-6 "
            "(float64 copies of the model)",
            lambda m: potential_pass(m, force_mae=50.0),
            potential=True,
        ),
        Experiment(
            "emt_alloy",
            "A multi-element potential: several EMT metals, bulk alloys and surfaces (slabs periodic in two "
            "directions) in one model; per-element energy shifts from the training statistics.",
            "test force MAE < 100 meV/A; symmetry errors < 1e-9 and force finite-difference error < 1e-6 "
            "(float64 copies of the model)",
            lambda m: potential_pass(m, force_mae=100.0),
            potential=True,
        ),
    )
}
