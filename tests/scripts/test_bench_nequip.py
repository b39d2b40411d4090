"""scripts/bench_nequip.py: the shared data, both runs' configs, the wall-clock recorder and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import ase.io
import lightning as L
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from e3lab._run import register_resolvers

CONF_DIR = Path(__file__).resolve().parents[2] / "src" / "e3lab" / "conf"


@pytest.fixture(scope="module")
def bench(load_script: Callable[[str], ModuleType]) -> ModuleType:
    for helper in ("bench_nequip_configs", "bench_nequip_report"):  # what bench_nequip imports
        load_script(helper)
    return load_script("bench_nequip")


@pytest.fixture(scope="module")
def dry_run(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bench_nequip")
    argv = ["--dry-run", "--work", str(work), "--lr-sweep", "0.002,0.01", "--sweep-budget-min", "1.5"]
    return bench.main([*argv, "--budget-min", "2", "--md-forms", "eager"])


def test_the_data_is_written_once_and_split_200_25_25(dry_run: dict) -> None:
    sizes = {split: len(ase.io.read(path, index=":")) for split, path in dry_run["data"]["files"].items()}
    assert sizes == {"train": 200, "val": 25, "test": 25}
    first = ase.io.read(dry_run["data"]["files"]["test"], index=0)
    assert len(first) == 128 and first.get_chemical_formula() == "Cu128" and first.pbc.all()
    assert 0.6 < dry_run["data"]["zero_force_mae"] < 1.0  # eV/A: the rattle 0.1 A gives ~0.8


def test_each_framework_sweeps_the_rates_then_runs_the_budget(dry_run: dict) -> None:
    for framework, run in dry_run["runs"].items():
        assert [r["lr"] for r in run["sweep"]] == [0.002, 0.01], framework
        assert [r["budget_s"] for r in run["sweep"]] == [90.0, 90.0]
        assert run["final"]["budget_s"] == 120.0
    e3lab = dry_run["runs"]["e3lab"]["final"]["command"]
    assert "experiment=emt_cu" in e3lab and "++trainer.max_time=00:00:02:00" in e3lab


def test_the_nequip_config_reads_the_same_files(dry_run: dict) -> None:
    if "nequip" not in dry_run["runs"]:
        pytest.skip("NequIP is not installed (pip install -e '.[bench]'): its config is not written")
    run = dry_run["runs"]["nequip"]["sweep"][1]
    config = yaml.safe_load((Path(run["run_dir"]) / "config.yaml").read_text())
    files = dry_run["data"]["files"]
    assert config["data"]["_target_"] == "nequip.data.datamodule.ASEDataModule"
    assert [config["data"][f"{s}_file_path"] for s in ("train", "val", "test")] == list(files.values())
    assert config["training_module"]["optimizer"]["lr"] == 0.01
    assert config["trainer"]["max_time"] == "00:00:01:30"
    model = config["training_module"]["model"]
    assert (model["num_layers"], model["l_max"], model["num_features"], model["r_max"]) == (4, 1, 32, 5.0)


def _compose(overrides: list[str]):
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def test_the_e3lab_overrides_compose_to_the_same_setting(
    bench: ModuleType, dry_run: dict, tmp_path: Path
) -> None:
    command = dry_run["runs"]["e3lab"]["final"]["command"]
    cfg = _compose([arg for arg in command[2:] if not arg.startswith(("hydra.", "name="))])
    assert cfg.data.file_path == dry_run["data"]["files"]["train"] and cfg.data.cutoff == 5.0
    assert cfg.data.batch_size == 5 and cfg.model.ema_decay == 0.999 and cfg.model.stress_weight == 1.0
    assert cfg.model.net.num_features == 32 and cfg.model.net.num_layers == 4
    assert cfg.callbacks.bench_recorder._target_ == "bench_wall_clock.WallClockRecorder"


@pytest.mark.parametrize(
    "model, parity, radial_hidden", [("nequip_size", True, 64), ("nequip_cpu", False, 32)]
)
def test_each_e3lab_backbone_composes_at_the_tutorial_depth_and_width(
    bench: ModuleType, dry_run: dict, model: str, parity: bool, radial_hidden: int
) -> None:
    files = dry_run["data"]["files"]
    cfg = _compose(bench.e3lab_overrides(files, 0.01, 60.0, Path("record"), model))
    net = cfg.model.net
    assert (net.num_layers, net.lmax, net.num_features, net.radial_number) == (4, 1, 32, 8)
    assert (net.parity, net.radial_hidden) == (parity, radial_hidden)


class _Line(L.LightningModule):
    """Fits y = 2x; logs the validation error as ``val/err`` and the test error as ``test/err``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def _error(self, batch: torch.Tensor) -> torch.Tensor:
        return ((self.w * batch - 2 * batch) ** 2).mean()

    def training_step(self, batch: torch.Tensor, _: int) -> torch.Tensor:
        return self._error(batch)

    def validation_step(self, batch: torch.Tensor, _: int) -> None:
        self.log("val/err", self._error(batch))

    def test_step(self, batch: torch.Tensor, _: int) -> None:
        self.log("test/err", self._error(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_the_recorder_writes_the_curve_step_times_and_test_metrics(
    load_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    recorder = load_script("bench_wall_clock").WallClockRecorder(str(tmp_path), metric="val/err", scale=1e-3)
    loader = torch.utils.data.DataLoader(torch.randn(40, 1), batch_size=4)
    trainer = L.Trainer(
        max_epochs=3,
        callbacks=[recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    model = _Line()
    trainer.fit(model, loader, loader)
    trainer.test(model, loader)
    rows = (tmp_path / "curve.csv").read_text().splitlines()
    assert rows[0] == "wall_s,epoch,step,val_forces_mae_ev_per_a" and len(rows) == 4
    errors = [float(row.split(",")[3]) for row in rows[1:]]
    assert errors[-1] < errors[0]  # in eV/A: 1e-3 times the logged value
    steps = json.loads((tmp_path / "steps.json").read_text())
    assert steps["steps"] == 30 and steps["median_step_s"] > 0 and steps["trainable_parameters"] == 1
    assert (
        len(steps["step_times_s"]) == 30 - 3 - 3
    )  # the first 3 and one per epoch (across validation) left out
    assert "test/err" in json.loads((tmp_path / "test.json").read_text())


def test_the_report_has_the_tables_the_plot_and_the_goals(
    load_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    report = load_script("bench_nequip_report")
    curve = [{"wall_s": 60.0 * k, "val_forces_mae_ev_per_a": 0.5 / k} for k in range(1, 6)]
    final = {
        "curve": curve,
        "steps": {"median_step_s": 0.5, "steps": 400, "train_wall_s": 300.0, "trainable_parameters": 1000},
    }
    results = {
        "args": {"threads": 2, "e3lab_model": "nequip_size", "nequip_python": None},
        "data": {"zero_force_mae": 0.82},
        "runs": {
            "nequip": {
                "lr": 0.002,
                "sweep": [],
                "final": {
                    **final,
                    "test": {"test0_epoch/forces_mae": 0.2, "test0_epoch/per_atom_energy_mae": 0.001},
                },
            },
            "e3lab": {
                "lr": 0.005,
                "sweep": [],
                "final": {
                    **final,
                    "test": {"test/forces_mae_mev_per_a": 90.0, "test/energy_mae_mev_per_atom": 0.5},
                },
            },
        },
        "md": [
            {
                "framework": "nequip",
                "form": "eager",
                "ms_per_step": 100.0,
                "steps_per_s": 10.0,
                "ns_per_day": 0.864,
                "setup_s": 1.0,
            },
            {
                "framework": "e3lab",
                "form": "eager",
                "ms_per_step": 25.0,
                "steps_per_s": 40.0,
                "ns_per_day": 3.456,
                "setup_s": 1.0,
            },
            {
                "framework": "e3lab",
                "form": "export",
                "error": "ExportError: the potential | cannot\nbe exported",
            },
        ],
    }
    text = report.write_report(results, tmp_path, "bench_nequip.py --budget-min 5").read_text()
    assert "python scripts/bench_nequip.py --budget-min 5" in text and (tmp_path / "curves.png").is_file()
    assert "| e3lab | 0.005 | 1000 | 400 | 500 | 90.0 | 0.50 | 3.0 |" in text  # 0.5/3 < 0.2 eV/A at 3 min
    assert "= 4.00x (goal >= 3x): met" in text and "0.60x NequIP's 5.0 min (goal <= 0.33x): not met" in text
    assert "failed: ExportError: the potential / cannot be exported" in text
    assert "backbone `nequip_size`" in text
    results["args"]["md_from"] = "e/results.json"
    results["trained"] = {"work": "w", "budget_min": 8, "lr_sweep": "0.01", "e3lab_model": "nequip_cpu"}
    text = report.write_report(results, tmp_path, "bench_nequip.py --md-from e/results.json").read_text()
    assert "backbone `nequip_cpu`" in text and "the earlier runs of `e/results.json`" in text


@pytest.mark.slow
def test_a_tiny_e3lab_run_writes_the_comparison(bench: ModuleType, tmp_path: Path) -> None:
    argv = ["--frameworks", "e3lab", "--budget-min", "0.4", "--threads", "1", "--md-forms", "eager,export"]
    results = bench.main(
        [*argv, "--md-steps", "2", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    )
    final = results["runs"]["e3lab"]["final"]
    assert final["returncode"] == 0 and final["best_ckpt"] is not None
    assert (
        final["curve"] and final["curve"][-1]["val_forces_mae_ev_per_a"] < results["data"]["zero_force_mae"]
    )
    assert final["steps"]["median_step_s"] > 0 and "test/forces_mae_mev_per_a" in final["test"]
    eager = next(row for row in results["md"] if row["form"] == "eager")
    assert eager["atoms"] == 128 and eager["steps_per_s"] > 0
    export = next(row for row in results["md"] if row["form"] == "export")
    assert "steps_per_s" in export or "cannot be exported" in export["error"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "| e3lab | 0.002 |" in readme and (tmp_path / "out" / "curves.png").is_file()


def test_md_from_reuses_the_trained_checkpoints_and_says_when_one_is_gone(
    bench: ModuleType, dry_run: dict, tmp_path: Path
) -> None:
    ckpt = tmp_path / "best.ckpt"
    ckpt.write_text("weights")
    earlier = {
        "args": {"work": "w", "budget_min": 8, "lr_sweep": "0.01", "e3lab_model": "nequip_cpu"},
        "data": dry_run["data"],
        "runs": {"e3lab": {"final": {"best_ckpt": str(ckpt)}, "sweep": [], "lr": 0.01}},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(earlier))
    argv = ["--md-from", str(path), "--frameworks", "e3lab", "--md-forms", "eager", "--dry-run"]
    results = bench.main([*argv, "--work", str(tmp_path / "work")])
    assert results["runs"] == earlier["runs"] and results["trained"] == earlier["args"]
    (row,) = results["md"]
    assert row["form"] == "eager" and str(ckpt) in row["command"]
    ckpt.unlink()
    with pytest.raises(SystemExit, match="gone for \\['e3lab'\\]"):
        bench.main([*argv, "--work", str(tmp_path / "work")])
