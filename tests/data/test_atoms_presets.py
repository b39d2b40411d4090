"""The atoms data presets (conf/data/atoms, emt_cu, emt_alloy, nequip_cu) compose and build DataModules."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue
from tests.data.atoms_files import write_random_set

from e3lab._run import register_resolvers
from e3lab.data import EMT_ELEMENTS, AtomsDataModule
from e3lab.graph import AtomsBatch

CONF_DIR = Path(__file__).resolve().parents[2] / "src" / "e3lab" / "conf"
# shrink the generated sets so that each preset builds in about a second
SMALL_EMT = [
    "data.file_path.supercells=[[1,1,1],[2,1,1]]",
    "data.file_path.rattle_frames=4",
    "data.file_path.md_frames=1",
    "data.file_path.md_interval=2",
    "data.file_path.vacancy_frames=2",
    "data.train=4",
    "data.val=2",
    "data.test=null",
]


def data_config(name: str, overrides: list[str], tmp_path: Path) -> DictConfig:
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"data={name}", f"paths.data_dir={tmp_path}", *overrides])
    finally:
        GlobalHydra.instance().clear()
    return cfg.data


@pytest.mark.parametrize("name", ["emt_cu", "emt_alloy"])
def test_emt_presets(name: str, tmp_path: Path) -> None:
    overrides = SMALL_EMT + (["data.file_path.surface_frames=2"] if name == "emt_alloy" else [])
    cfg = data_config(name, overrides, tmp_path)
    assert cfg.file_path._target_ == "e3lab.data.generate_emt"
    assert set(cfg.chemical_symbols) == set(cfg.file_path.elements) <= set(EMT_ELEMENTS)
    assert cfg.irreps_in == f"{len(cfg.chemical_symbols)}x0e" and cfg.irreps_out == "1x0e"
    dm = instantiate(cfg)
    assert isinstance(dm, AtomsDataModule) and dm.chemical_symbols == list(cfg.chemical_symbols)
    assert Path(dm.hparams.file_path).parent == tmp_path  # generated into paths.data_dir
    if name == "emt_alloy":  # the slabs have no stress
        with pytest.warns(UserWarning, match="2 of 12 structures .* have no stress"):
            dm.setup()
    batch = next(iter((dm.setup(), dm.train_dataloader())[1]))
    assert isinstance(batch, AtomsBatch) and batch.forces is not None
    assert dm.statistics()["avg_num_neighbors"] > 10


def test_full_emt_cu_preset_has_the_cells_the_md_goal_needs(tmp_path: Path) -> None:
    """The full emt_cu set (not generated here): 3 temperatures, 128-atom cells among the supercells."""
    cfg = data_config("emt_cu", [], tmp_path)
    sizes = [4 * a * b * c for a, b, c in cfg.file_path.supercells]
    assert 128 in sizes and max(sizes) <= 128
    assert sorted(cfg.file_path.md_temperatures) == [300.0, 800.0, 1300.0]
    frames = cfg.file_path.rattle_frames + cfg.file_path.vacancy_frames
    frames += len(sizes) * len(cfg.file_path.md_temperatures) * cfg.file_path.md_frames
    assert 150 <= frames <= 400


def test_nequip_cu_preset(tmp_path: Path) -> None:
    cfg = data_config(
        "nequip_cu", ["data.file_path.n_frames=6", "data.train=4", "data.val=1", "data.test=1"], tmp_path
    )
    full = data_config("nequip_cu", [], tmp_path)
    assert (full.train, full.val, full.test, full.cutoff, full.file_path.n_frames) == (200, 25, 25, 5.0, 250)
    dm = instantiate(cfg)
    batch = next(iter((dm.setup(), dm.train_dataloader())[1]))
    assert batch.num_atoms.tolist() == [128] * 4 and batch.stress.shape == (4, 3, 3)


def test_atoms_preset_needs_a_file_and_symbols(tmp_path: Path) -> None:
    cfg = data_config("atoms", [], tmp_path)
    with pytest.raises(MissingMandatoryValue, match="file_path"):
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    path = write_random_set(tmp_path / "mine.extxyz", 10)
    cfg = data_config("atoms", [f"data.file_path={path}", "data.chemical_symbols=[Au,Cu]"], tmp_path)
    assert cfg.irreps_in == "2x0e"
    dm = instantiate(cfg)
    assert dm.chemical_symbols == ["Au", "Cu"] and dm.cutoff == 5.0
    assert [len(dm.indices(s)) for s in ("train", "val", "test")] == [8, 1, 1]
