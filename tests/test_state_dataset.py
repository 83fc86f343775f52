"""The state dataset: recorded once by playing the run's policy, stored in the run, reused."""

from __future__ import annotations

import numpy as np
import pytest

from rlsight.errors import RlsightError
from rlsight.explain.states import (
    StatesSpec,
    load_or_record_states,
    load_states,
    save_states,
    states_path,
)
from rlsight.runs import RunDir
from tests.faith_helpers import model_run

SPEC = StatesSpec(levels=3, steps=4, seed=0)

pytestmark = pytest.mark.procgen  # every test here steps real Procgen games


def test_recorded_once_then_reused(tmp_path):
    run = model_run(tmp_path / "a")
    said: list[str] = []
    st = load_or_record_states(run, SPEC, say=said.append)
    assert len(said) == 1 and "recording 12 frames" in said[0] and "no state dataset" in said[0]
    assert st.obs.shape == (12, 64, 64, 3) and st.obs.dtype == np.uint8
    cfg = RunDir.open(run).config()
    first = cfg.env.test_levels()[0]
    assert st.levels.tolist() == [first] * 4 + [first + 1] * 4 + [first + 2] * 4  # held-out, level-major
    assert st.steps.tolist() == [0, 1, 2, 3] * 3 and st.first[::4].all()
    assert st.actions.shape == (12,) and ((st.actions >= 0) & (st.actions < 15)).all()
    assert st.meta["game"] == "starpilot" and st.meta["model_step"] == 1000 and st.meta["policy"] == "sampled"
    assert states_path(RunDir.open(run)).is_file()
    # the three levels differ (one environment per level)
    assert not np.array_equal(st.obs[0], st.obs[4]) or not np.array_equal(st.obs[4], st.obs[8])

    again = load_or_record_states(run, SPEC, say=said.append)
    assert len(said) == 1  # loaded, not recorded
    for k in ("obs", "actions", "levels", "steps", "first"):
        assert np.array_equal(getattr(st, k), getattr(again, k))


def test_recording_is_deterministic_and_a_new_spec_records_anew(tmp_path):
    a = load_or_record_states(model_run(tmp_path / "a"), SPEC, say=lambda m: None)
    b = load_or_record_states(model_run(tmp_path / "b"), SPEC, say=lambda m: None)
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.actions, b.actions)
    said: list[str] = []
    c = load_or_record_states(tmp_path / "a", StatesSpec(levels=2, steps=2), say=said.append)
    assert len(c) == 4 and "3 levels x 4 steps" in said[0]


def test_subset_spreads_over_levels(tmp_path):
    st = load_or_record_states(model_run(tmp_path / "a"), SPEC, say=lambda m: None)
    sub = st.subset(3)
    assert sorted(set(sub.levels.tolist())) == sorted(set(st.levels.tolist()))
    with pytest.raises(RlsightError, match="13 frames requested; the state dataset holds 12"):
        st.subset(13)


def test_frames_of_another_game_are_refused(tmp_path):
    run = model_run(tmp_path / "a")
    st = load_or_record_states(run, SPEC, say=lambda m: None)
    st.meta["game"] = "coinrun"
    save_states(states_path(RunDir.open(run)), st)
    with pytest.raises(RlsightError) as e:
        load_or_record_states(run, SPEC, say=lambda m: None)
    msg = str(e.value)
    assert "coinrun" in msg and "starpilot" in msg and "\n" not in msg


def test_damaged_file_is_named(tmp_path):
    p = tmp_path / "states.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(RlsightError, match="not a readable state dataset"):
        load_states(p)


def test_a_run_on_every_level_records_training_levels_and_says_so(tmp_path):
    """env.num_levels = 0: no level is held out, so the dataset's levels are training levels."""
    run = model_run(tmp_path / "all", env__num_levels=0, env__num_test_envs=0)
    said: list[str] = []
    st = load_or_record_states(run, SPEC, say=said.append)
    assert "3 training levels: the run trained on every level, none is held out" in said[0]
    assert st.meta["held_out"] is False
    assert load_or_record_states(model_run(tmp_path / "some"), SPEC, say=said.append).meta["held_out"] is True
