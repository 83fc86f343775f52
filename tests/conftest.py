"""Shared fixtures: tiny configs, tiny trained runs, the original project's checkpoints imported."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from rlsight.config import Config, validate

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RLSIGHT_SHARED", REPO.parent / "shared"))
ORIGINAL_EXPERIMENTS = SHARED / "seed" / "experiments"
ORIGINAL_CHECKPOINTS = {
    "0_baseline": "starpilot",
    "2_500_lvls": "starpilot",
    "5_500_lvls_impala_valclip": "starpilot",
    "7_model_5_boss_fight": "bossfight",
    "9_model_5_coinrun": "coinrun",
    "11_model_5_bigfish": "bigfish",
}


# Tests that step real Procgen games carry the marker `procgen`: set by hand, or here for
# every test that uses a fixture which trains on Procgen. Without procgen installed (an
# install without the `procgen` extra, e.g. the numpy-2 CI job) they are skipped, not failed.
HAS_PROCGEN = importlib.util.find_spec("procgen") is not None
PROCGEN_FIXTURES = frozenset({"tiny_run"})
NO_PROCGEN = pytest.mark.skip(reason="needs procgen (pip install 'rlsight[procgen]'), which is not installed")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use a Procgen-training fixture ``procgen``; skip those tests without procgen."""
    for item in items:
        if PROCGEN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.procgen)
        if not HAS_PROCGEN and item.get_closest_marker("procgen") is not None:
            item.add_marker(NO_PROCGEN)


def original_checkpoint(name: str) -> Path:
    """Path of an original-project checkpoint; skips the test when ../shared is absent."""
    p = ORIGINAL_EXPERIMENTS / name / f"model_{name}.pt"
    if not p.is_file():
        pytest.skip(f"the original project's checkpoints not found at {ORIGINAL_EXPERIMENTS} (set RLSIGHT_SHARED to the shared/ folder)")
    return p


def config_from(settings: dict[str, object], **overrides) -> Config:
    """A validated Config: ``settings`` then ``overrides``, each keyed ``section__key``."""
    c = Config()
    for k, v in {**settings, **overrides}.items():
        sec, key = k.split("__")
        setattr(getattr(c, sec), key, v)
    validate(c)
    return c


TINY_PROCGEN = {
    "env__game": "starpilot", "env__num_envs": 8, "env__num_test_envs": 4, "env__num_levels": 20,
    "model__encoder": "nature", "model__n_features": 64,
    "ppo__num_steps": 32, "ppo__batch_size": 64, "ppo__num_epochs": 2,
    "train__total_steps": 1024, "train__save_step": 512, "train__torch_threads": 1,
}


def tiny_config(**overrides) -> Config:
    """A config that trains in a few seconds on a CPU (Nature encoder, 8 envs)."""
    return config_from(TINY_PROCGEN, **overrides)


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test (small saliency and feature computations: faster and
    free of thread-count float differences); the previous count restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny training run (shared by reader tests; do not modify it)."""
    from rlsight.training import train

    d = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(), d, progress=False)
    return d


@pytest.fixture(scope="session")
def original_run_nature(tmp_path_factory) -> Path:
    """The original project's 0_baseline checkpoint imported as a run (Nature-DQN, starpilot)."""
    from rlsight.runs.importer import import_checkpoint

    ck = original_checkpoint("0_baseline")
    d = tmp_path_factory.mktemp("original") / "baseline"
    import_checkpoint(ck, "starpilot", d, num_levels=10)
    return d


@pytest.fixture(scope="session")
def original_run_impala(tmp_path_factory) -> Path:
    """The original project's best checkpoint (IMPALA, starpilot) imported as a run."""
    from rlsight.runs.importer import import_checkpoint

    ck = original_checkpoint("5_500_lvls_impala_valclip")
    d = tmp_path_factory.mktemp("original") / "best"
    import_checkpoint(ck, "starpilot", d)
    return d
