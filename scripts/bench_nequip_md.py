"""MD speed of one trained potential through its ASE calculator: NVE velocity Verlet, 1 fs, on one structure.

Run by ``scripts/bench_nequip.py`` in a fresh process per calculator (one framework in memory at a time):

    python scripts/bench_nequip_md.py --framework e3lab --model CKPT --form eager|export|aoti --structure X
    python scripts/bench_nequip_md.py --framework nequip --model CKPT_OR_PT2 --form eager|aoti --structure X

NequIP's forms: ``eager`` is its checkpoint loaded by ``NequIPCalculator._from_saved_model``, ``aoti`` the
file written by ``nequip-compile --mode aotinductor --target ase`` loaded by ``from_compiled_model``.
Prints one JSON line: steps/s, ms/step, ns/day, set-up seconds (loading, export or compilation), and the
first energy (a check that both calculators see the same structure). Imports e3lab only for its own side.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from ase import units
from ase.io import read
from ase.md.verlet import VelocityVerlet

try:
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # ASE < 3.29 names it MaxwellBoltzmannDistribution
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta  # noqa: N813


def _calculator(framework: str, model: str, form: str):
    if framework == "e3lab":
        from e3lab.calculator import E3labCalculator

        return E3labCalculator.from_checkpoint(model, form=form)
    from nequip.integrations.ase import NequIPCalculator

    if form == "aoti":
        return NequIPCalculator.from_compiled_model(model, device="cpu")
    return NequIPCalculator._from_saved_model(model, device="cpu")


def measure(framework: str, model: str, form: str, structure: str, steps: int, warmup: int) -> dict:
    """Time ``steps`` velocity-Verlet steps after ``warmup`` steps (which pay for any first-call set-up)."""
    import torch

    atoms = read(structure, index=0)
    atoms.calc = None
    start = time.perf_counter()
    atoms.calc = _calculator(framework, model, form)
    energy = float(atoms.get_potential_energy())  # an export or compilation happens here
    setup_s = time.perf_counter() - start
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dynamics.run(warmup)
    start = time.perf_counter()
    dynamics.run(steps)
    elapsed = time.perf_counter() - start
    return {
        "framework": framework,
        "form": form,
        "atoms": len(atoms),
        "threads": torch.get_num_threads(),
        "steps": steps,
        "steps_per_s": steps / elapsed,
        "ms_per_step": 1e3 * elapsed / steps,
        "ns_per_day": steps / elapsed * 1.0 * 86400 * 1e-6,
        "setup_s": setup_s,
        "energy0_ev": energy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=("e3lab", "nequip"), required=True)
    parser.add_argument(
        "--model", required=True, help="checkpoint (eager/export/aoti of e3lab) or NequIP .pt2"
    )
    parser.add_argument("--form", default="eager", choices=("eager", "export", "aoti"))
    parser.add_argument("--structure", required=True, help="ASE-readable file; its first frame is used")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        result = measure(args.framework, args.model, args.form, args.structure, args.steps, args.warmup)
    except Exception as err:  # reported, not raised: the benchmark table says which form failed and why
        result = {
            "framework": args.framework,
            "form": args.form,
            "error": f"{type(err).__name__}: {err}"[:600],
        }
    print("BENCH_MD " + json.dumps(result))


if __name__ == "__main__":
    main()
