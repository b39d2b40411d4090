"""Time e3lab.graph.neighbor_list against ase.neighborlist.neighbor_list on periodic fcc-like cells.

Cells: random positions at the density of fcc Cu (0.085 atoms/A^3) in a sheared (triclinic) box,
5 A cutoff (about 45 neighbours per atom), periodic in 3D; sizes 32 (a cell smaller than twice the
cutoff), 128, 1000 and 10000 atoms. Both are asked for the same output (i, j, shift); the edge counts
are checked equal. Prints best-of-N wall times (ms) and the ratio ASE / e3lab.

    python scripts/bench_neighbor_list.py            # 1 thread (the data loader's setting)
    python scripts/bench_neighbor_list.py --threads 2
    python scripts/bench_neighbor_list.py --quick    # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import ase
import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list

from e3lab.graph import neighbor_list

DENSITY = 0.085  # atoms per A^3, fcc Cu


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``fn`` in ms over ``repeats`` calls after a warm-up (other jobs only add time)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def structure(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    side = (n / DENSITY) ** (1 / 3)
    cell = np.diag([side] * 3) + rng.uniform(-0.15 * side, 0.15 * side, (3, 3))
    cell *= (n / DENSITY / abs(np.linalg.det(cell))) ** (1 / 3)
    return rng.uniform(0, 1, (n, 3)) @ cell, cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cutoff", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [32, 128] if args.quick else [32, 128, 1000, 10000]
    rng = np.random.default_rng(0)
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, ase {ase.__version__}, "
        f"{args.threads} thread(s), cutoff {args.cutoff} A"
    )
    print(
        f"{'atoms':>6} {'edges':>9} {'e3lab f64 ms':>13} {'e3lab f32 ms':>13} {'ase ms':>9} {'ase/e3lab':>9}"
    )
    for n in sizes:
        pos, cell = structure(n, rng)
        atoms = Atoms(numbers=[29] * n, positions=pos, cell=cell, pbc=True)
        pos64, cell64 = torch.tensor(pos), torch.tensor(cell)
        pos32, cell32 = pos64.float(), cell64.float()
        edges = neighbor_list(pos64, args.cutoff, cell64, [True] * 3)[0].shape[1]
        reference = len(ase_neighbor_list("i", atoms, args.cutoff))
        if edges != reference:
            raise RuntimeError(f"{n} atoms: {edges} edges here, {reference} from ASE")
        repeats = 3 if n >= 10000 else 10
        ours64 = best_ms(lambda p=pos64, c=cell64: neighbor_list(p, args.cutoff, c, [True] * 3), repeats)
        ours32 = best_ms(lambda p=pos32, c=cell32: neighbor_list(p, args.cutoff, c, [True] * 3), repeats)
        theirs = best_ms(lambda a=atoms: ase_neighbor_list("ijS", a, args.cutoff), repeats)
        print(f"{n:>6} {edges:>9} {ours64:>13.2f} {ours32:>13.2f} {theirs:>9.2f} {theirs / ours64:>9.2f}")


if __name__ == "__main__":
    main()
