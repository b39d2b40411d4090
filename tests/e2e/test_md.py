"""md.py end to end: a tiny potential's checkpoint in a run folder, MD on a test-split structure, outputs;
a broken potential stops with its last good frame saved and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import pytest
import torch
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from omegaconf import OmegaConf
from tests.calculator._potentials import SYMBOLS, periodic_structure, save_checkpoint, tiny_potential

from .conftest import run_script


def _run_folder(root: Path, model) -> Path:
    """``root`` as train.py leaves it: checkpoints/last.ckpt and .hydra/config.yaml with the data config."""
    root.mkdir(parents=True)
    frames = []
    for seed in range(6):
        atoms = periodic_structure(seed=seed, repeat=1)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(
            atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces()
        )
        frames.append(atoms)
    ase.io.write(root / "frames.extxyz", frames)
    data = {
        "_target_": "e3lab.data.AtomsDataModule",
        "file_path": str(root / "frames.extxyz"),
        "chemical_symbols": list(SYMBOLS),
        "cutoff": 3.5,
        "stress_key": None,
        "train": 4,
        "val": 1,
        "test": 1,
        "cache_dir": str(root / "cache"),
    }
    (root / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create({"data": data}), root / ".hydra" / "config.yaml")
    (root / "checkpoints").mkdir()
    return save_checkpoint(model, root / "checkpoints" / "last.ckpt")


@pytest.mark.slow
def test_md_on_a_test_structure_writes_trajectory_plot_report(tmp_path):
    ckpt = _run_folder(tmp_path / "train_run", tiny_potential(dtype=torch.float32))
    out = tmp_path / "md_run"
    args = [
        f"ckpt_path={ckpt}",
        "steps=20",
        "trajectory_every=5",
        "ensemble=nvt",
        "reference=emt",
        f"hydra.run.dir={out}",
        f"report_dir={tmp_path / 'report'}",
        "progress=false",
    ]
    result = run_script("md.py", args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "steps/s" in result.stdout and "ns/day" in result.stdout
    summary = json.loads((out / "md" / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["num_atoms"] == 4 and summary["blow_up"] is None
    assert summary["steps_per_s"] > 0 and "reference_potential_mae_mev_per_atom" in summary
    assert 1 <= summary["neighbour_list_builds"] < 20  # the skin keeps the list across most steps
    assert len(ase.io.read(out / "md" / "trajectory.traj", index=":")) == 5
    assert (out / "md" / "energy.png").stat().st_size > 10_000
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert list((out / "wandb").glob("offline-run-*"))
    report = (tmp_path / "report" / "README.md").read_text()
    assert "python md.py ckpt_path=" in report and "steps=20" in report and "Goal" in report


@pytest.mark.slow
def test_md_with_a_broken_potential_stops_and_saves_the_last_good_frame(tmp_path):
    ckpt = _run_folder(
        tmp_path / "train_run", tiny_potential(dtype=torch.float32, per_element_energy_scale=-300.0)
    )
    structure = tmp_path / "start.extxyz"
    ase.io.write(structure, periodic_structure(seed=0))
    out = tmp_path / "md_run"
    args = [
        f"ckpt_path={ckpt}",
        f"structure={structure}",
        "steps=300",
        "timestep_fs=2",
        f"hydra.run.dir={out}",
        "progress=false",
    ]
    result = run_script("md.py", args, cwd=tmp_path, timeout=600)
    assert result.returncode != 0
    assert "MD blew up at step" in result.stderr and "last good frame" in result.stderr
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "blown_up" and Path(status["last_good_frame"]).is_file()
    assert len(ase.io.read(status["last_good_frame"])) == 32
