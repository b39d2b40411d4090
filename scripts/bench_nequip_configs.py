"""The two training runs of ``scripts/bench_nequip.py``: NequIP's config file and e3lab's command line.

Both read the same three extxyz files (train/val/test, written once from e3lab's generator), stop at the
same wall-clock budget (Lightning's ``max_time``: training and validation time, not start-up), validate
after every epoch (and when the budget ends), test the best validation checkpoint (EMA weights), and are
recorded by the same :class:`bench_wall_clock.WallClockRecorder`.

Validation is once per epoch (40 steps) because NequIP's EMA swaps its weights in and out around
validation, and Lightning's ``ModelCheckpoint`` saves at validation end (weights swapped: a checkpoint
NequIP then refuses to load) as soon as validation runs more often than once per epoch.

NequIP's side is the tutorial-size model of NequIP 0.19 (``NequIPGNNModel``: 4 layers, l_max 1, 32
features, radial MLP 2 x 64, 8 Bessels, polynomial cutoff p=6, float32) in ``EMALightningModule`` (EMA
0.999), Adam, ReduceLROnPlateau, batch 5, data through ``ASEDataModule``, no ``torch.compile``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["E3LAB_MODELS", "e3lab_overrides", "nequip_config"]

_RECORDER = "bench_wall_clock.WallClockRecorder"


def _max_time(budget_s: float) -> str:
    """Lightning's ``DD:HH:MM:SS`` for a budget in seconds (rounded to whole seconds)."""
    total = max(1, round(budget_s))
    return f"00:{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def nequip_config(
    files: dict[str, str], lr: float, budget_s: float, record_dir: Path, seed: int = 1
) -> dict[str, Any]:
    """The ``nequip-train`` config (a dict to write as YAML) of one run."""
    species = ["Cu"]
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": 5}
    coefficients = {"total_energy": 1.0, "forces": 1.0, "stress": 1.0}
    metrics = {
        "_target_": "nequip.train.EnergyForceStressMetrics",
        "coeffs": {"total_energy_mae": 1.0, "forces_mae": 1.0, "stress_mae": 1.0},
    }
    return {
        "run": ["train", "test"],
        "data": {
            "_target_": "nequip.data.datamodule.ASEDataModule",
            "seed": seed,
            "train_file_path": files["train"],
            "val_file_path": files["val"],
            "test_file_path": files["test"],
            "transforms": [
                {
                    "_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                    "model_type_names": species,
                    "chemical_species_to_atom_type_map": {s: s for s in species},
                },
                {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 5.0},
            ],
            "train_dataloader": {**loader, "shuffle": True},
            "val_dataloader": loader,
            "test_dataloader": loader,
            "stats_manager": {"_target_": "nequip.data.CommonDataStatisticsManager", "type_names": species},
        },
        "trainer": {
            "_target_": "lightning.Trainer",
            "max_epochs": 100000,
            "max_time": _max_time(budget_s),
            "check_val_every_n_epoch": 1,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "log_every_n_steps": 10,
            "logger": {
                "_target_": "lightning.pytorch.loggers.CSVLogger",
                "save_dir": "${hydra:runtime.output_dir}",
            },
            "callbacks": [
                {
                    "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "monitor": "val0_epoch/weighted_sum",
                    "dirpath": "${hydra:runtime.output_dir}",
                    "filename": "best",
                    "save_top_k": 1,
                },
                {
                    "_target_": _RECORDER,
                    "out_dir": str(record_dir),
                    "metric": "val0_epoch/forces_mae",
                    "scale": 1.0,
                },
            ],
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": 0.999,
            "loss": {
                "_target_": "nequip.train.EnergyForceStressLoss",
                "per_atom_energy": True,
                "coeffs": coefficients,
            },
            "val_metrics": metrics,
            "test_metrics": metrics,
            "optimizer": {"_target_": "torch.optim.Adam", "lr": lr},
            "lr_scheduler": {
                "scheduler": {
                    "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                    "factor": 0.6,
                    "patience": 5,
                    "threshold": 0.2,
                    "min_lr": 1e-6,
                },
                "monitor": "val0_epoch/weighted_sum",
                "interval": "epoch",
                "frequency": 1,
            },
            "model": {
                "_target_": "nequip.model.NequIPGNNModel",
                "seed": seed,
                "model_dtype": "float32",
                "type_names": species,
                "r_max": 5.0,
                "l_max": 1,
                "parity": True,
                "num_layers": 4,
                "num_features": 32,
                "radial_mlp_depth": 2,
                "radial_mlp_width": 64,
                "num_bessels": 8,
                "polynomial_cutoff_p": 6,
                "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
                "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
                "per_type_energy_scales": "${training_data_stats:forces_rms}",
            },
        },
    }


# e3lab's backbone configurations (Hydra overrides of experiment=emt_cu's model.net)
E3LAB_MODELS: dict[str, list[str]] = {
    # NequIP's tutorial size: 4 layers, l_max 1, 32 features, radial MLP 2 x 64, 8 Bessels, p = 6
    "nequip_size": [
        "model.net.num_layers=4",
        "model.net.lmax=1",
        "model.net.num_features=32",
        "model.net.parity=true",
        "model.net.radial_layers=2",
        "model.net.radial_hidden=64",
        "model.net.radial_number=8",
        "model.net.radial_p=6",
    ],
    # experiment=emt_cu's own backbone (conf/model/net/nequip_cpu.yaml): the same 4 layers, l_max 1,
    # 32 features, 8 Bessels and p = 6, with natural parities only (0e + 1o) and a radial MLP 2 x 32
    "nequip_cpu": ["model/net=nequip_cpu"],
}


def e3lab_overrides(
    files: dict[str, str],
    lr: float,
    budget_s: float,
    record_dir: Path,
    model: str = "nequip_size",
    seed: int = 1,
    threads: int = 2,
) -> list[str]:
    """``python train.py`` overrides of one run (``experiment=emt_cu`` on the three files, same schedule)."""
    recorder = (
        f"+callbacks.bench_recorder={{_target_: {_RECORDER}, out_dir: '{record_dir}', "
        "metric: val/forces_mae_mev_per_a, scale: 0.001}"
    )
    return [
        "experiment=emt_cu",
        f"data.file_path={files['train']}",
        f"data.val_file={files['val']}",
        f"data.test_file={files['test']}",
        "data.train=null",
        "data.val=null",
        "data.test=null",
        "data.cutoff=5.0",
        "++data.batch_size=5",
        "++data.val_batch_size=5",
        f"seed={seed}",
        f"num_threads={threads}",
        "float64=false",
        f"++model.optimizer.lr={lr}",
        "++model.ema_decay=0.999",
        # NequIP's loss (energy per atom, forces, stress, weights 1) and schedule
        "++model.stress_weight=1.0",
        "++model.scheduler.factor=0.6",
        "++model.scheduler.patience=5",
        "++model.scheduler.threshold=0.2",
        "++model.scheduler.min_lr=1e-6",
        "++trainer.max_epochs=100000",
        "++trainer.max_steps=-1",
        f"++trainer.max_time={_max_time(budget_s)}",
        "++trainer.check_val_every_n_epoch=1",
        "++trainer.num_sanity_val_steps=0",
        "++trainer.enable_progress_bar=false",
        "logger=csv",
        "callbacks=model_checkpoint",
        # experiment=emt_cu tunes its symmetry checks; the bench runs none (NequIP's run has none either)
        "++callbacks.potential_equivariance=null",
        "++callbacks.force_conservation=null",
        recorder,
        "test=true",
        "test_ckpt=best",
        *E3LAB_MODELS[model],
    ]
