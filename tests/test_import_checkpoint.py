"""``rlsight import-checkpoint``: the encoder comes from the state dict, ``--set``
records the env and model settings a checkpoint was trained with, a setting that
contradicts the weights is refused before anything is written, and the old name
``import-seed`` still works and says where it went."""

from __future__ import annotations

import pytest
import torch

from rlsight.config import ModelConfig
from rlsight.errors import RlsightError
from rlsight.models import build_model
from rlsight.runs import RunDir
from rlsight.runs.importer import ORIGINAL_ENV, import_checkpoint
from tests.test_cli import _one_line_error, rlsight_here


@pytest.fixture(scope="module")
def nature_pt(tmp_path_factory):
    """A Nature-DQN state dict saved as the original project saved its checkpoints."""
    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("ck") / "model_x.pt"
    torch.save(build_model(ModelConfig(encoder="nature", n_features=64)).state_dict(), p)
    return p


def test_defaults_are_the_original_projects_settings(nature_pt, tmp_path):
    cfg = import_checkpoint(nature_pt, "coinrun", tmp_path / "r").config()
    assert cfg.model.encoder == "nature" and cfg.model.n_features == 64
    assert {k: getattr(cfg.env, k) for k in ORIGINAL_ENV} == ORIGINAL_ENV


def test_set_records_env_and_model_keys(nature_pt, tmp_path):
    run = import_checkpoint(nature_pt, "starpilot", tmp_path / "r", overrides=[
        "env.use_backgrounds=true", "env.distribution_mode=hard", "env.restrict_themes=false",
        "model.encoder=nature", "model.n_features=64"])
    cfg = RunDir.open(run.path).config()
    assert cfg.env.use_backgrounds is True and cfg.env.distribution_mode == "hard"
    assert cfg.env.restrict_themes is False and cfg.model.encoder == "nature"


@pytest.mark.parametrize("setting, fragment", [
    ("model.encoder=impala", "holds a nature encoder (detected from its state dict)"),
    ("model.n_features=256", "weights do not fit"),
    ("ppo.lr=0.1", "env.* and model.* keys only"),
    ("env.use_backgroundz=true", "env.use_backgroundz"),
])
def test_a_setting_the_checkpoint_contradicts_is_refused_and_nothing_written(nature_pt, tmp_path, setting, fragment):
    with pytest.raises(RlsightError, match=fragment.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        import_checkpoint(nature_pt, "starpilot", tmp_path / "r", overrides=[setting])
    assert not (tmp_path / "r").exists()


def test_cli_mismatch_is_one_line_and_the_old_name_says_where_it_went(nature_pt, tmp_path):
    p = rlsight_here("import-checkpoint", str(nature_pt), "--game", "starpilot", "--out", str(tmp_path / "a"),
                "--set", "model.encoder=impala")
    _one_line_error(p, "holds a nature encoder")
    assert not (tmp_path / "a").exists()
    p = rlsight_here("import-seed", str(nature_pt), "--game", "starpilot", "--out", str(tmp_path / "b"),
                "--set", "env.use_backgrounds=true")
    assert p.returncode == 0, p.stderr
    assert "rlsight import-seed is now `rlsight import-checkpoint`" in p.stderr
    assert RunDir.open(tmp_path / "b").config().env.use_backgrounds is True
    assert "import-seed" not in rlsight_here("--help").stdout
