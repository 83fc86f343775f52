"""Learned features on synthetic models with planted features: NMF recovers them, the
comparison finds the one only one model has, ablation changes behaviour only when
the feature drives the action."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlsight.errors import RlsightError
from rlsight.explain.features import FeatureInfo, FeatureSet, load_features, save_features
from rlsight.explain.features.ablate import NO_CHANGE, ablate_model, feature_removed
from rlsight.explain.features.compare import compare_features, correlations, match_features
from rlsight.explain.features.compute import compute_features
from rlsight.explain.features.layers import default_layer, resolve_layer
from tests.features_helpers import (
    BLUE,
    GREEN,
    RED,
    ColourNet,
    QuadrantNet,
    colour_frames,
    planted_maps,
)
from tests.toy_env import QuadrantEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def quiet(_msg: str) -> None:
    pass


def _best_corr(maps: np.ndarray, truth: np.ndarray) -> float:
    """Best correlation of the true map with any recovered feature's map, over frames x positions."""
    flat = maps.transpose(0, 2, 3, 1).reshape(-1, maps.shape[1])
    return float(correlations(truth.reshape(-1, 1), flat).max())


@pytest.fixture(scope="module")
def frames():
    obs = colour_frames(160, seed=1)
    return obs, np.zeros(len(obs), np.int64)


def test_nmf_recovers_both_planted_features(frames):
    obs, actions = frames
    model = ColourNet({"red": RED, "green": GREEN})
    fs = compute_features(model, obs, actions, k=2, say=quiet)
    assert fs.layer == "encoder" == default_layer(model)
    maps = fs.project(model, obs)
    assert maps.shape == (len(obs), 2, 8, 8) and maps.dtype == np.float32
    for colour in ("red", "green"):
        assert _best_corr(maps, planted_maps(obs, colour)) >= 0.9, colour
    assert _best_corr(maps, planted_maps(obs, "blue")) < 0.3  # the model does not see blue
    # the two features are distinct directions: one on channels 0-1, one on 2-3
    owners = {int(np.argmax(c)) // 2 for c in fs.components}
    assert owners == {0, 1}
    shares = [f.value_share + f.policy_share for f in fs.features]
    assert shares == sorted(shares, reverse=True) and 0 < sum(f.value_share for f in fs.features) <= 1 + 1e-6
    assert fs.labels == ["F0", "F1"]
    assert fs.arrays["top_patches"].shape == (2, 8, 24, 24, 3)


def test_top_examples_show_the_feature(frames):
    obs, actions = frames
    model = ColourNet({"red": RED, "green": GREEN})
    fs = compute_features(model, obs, actions, k=2, say=quiet)
    red = int(np.argmax([c[0] for c in fs.components]))
    patches = fs.arrays["top_patches"][red]
    assert (patches[..., 0] == 255).mean() > (patches[..., 1] == 255).mean()  # mostly red


def test_store_round_trip_and_project(tmp_path, frames):
    obs, actions = frames
    model = ColourNet({"red": RED, "green": GREEN})
    assert load_features(tmp_path) is None
    fs = compute_features(model, obs[:40], actions[:40], k=2, say=quiet)
    save_features(tmp_path, fs)
    back = load_features(tmp_path)
    assert isinstance(back, FeatureSet) and back.k == 2 and back.layer == "encoder"
    assert back.shares == fs.shares
    np.testing.assert_allclose(back.project(model, obs[:5]), fs.project(model, obs[:5]), rtol=1e-5, atol=1e-6)
    with pytest.raises(RlsightError, match="--overwrite"):
        save_features(tmp_path, fs)
    assert load_features(tmp_path) is not None  # nothing lost


def _compare(obs, actions, a_feats, b_feats):
    ma, mb = ColourNet(a_feats), ColourNet(b_feats, seed=1)
    fa = compute_features(ma, obs, actions, k=2, say=quiet)
    fb = compute_features(mb, obs, actions, k=2, say=quiet)
    nulls = [ColourNet(None, seed=s) for s in range(2, 21)]
    return fa, fb, compare_features(ma, fa, mb, fb, obs, nulls, nulls)


def _colour_of(fs: FeatureSet, index: int) -> str:
    return ["red", "green", "blue"][int(np.argmax(fs.components[index])) // 2]


def test_comparison_finds_the_feature_only_one_model_has(frames):
    obs, actions = frames
    fa, fb, cmp = _compare(obs, actions, {"red": RED, "green": GREEN}, {"red": {0: 0.7, 1: 0.9}, "blue": BLUE})
    lacking_a = {_colour_of(fa, m.feature) for m in cmp.lacking("a")}
    lacking_b = {_colour_of(fb, m.feature) for m in cmp.lacking("b")}
    assert lacking_a == {"green"} and lacking_b == {"blue"}
    red = next(m for m in cmp.a if _colour_of(fa, m.feature) == "red")
    assert red.matched and red.best_corr > 0.99 and _colour_of(fb, red.best_match) == "red"
    green = next(m for m in cmp.a if _colour_of(fa, m.feature) == "green")
    # the null decides: green's best match is below what random networks reach
    assert green.best_corr < green.null_threshold
    assert green.value_share == fa.features[green.feature].value_share


def test_matching_needs_the_null():
    """Without a meaningful null (a constant one) every feature would count as matched;
    with random-network features as the null, a chance-level correlation is not a match."""
    rng = np.random.default_rng(0)
    own = rng.random((200, 1))
    other = 0.3 * own + rng.random((200, 1))  # correlates ~0.3 by construction
    chance = [0.3 * own + rng.random((200, 1)) for _ in range(19)]  # random networks reach the same by chance
    fs = FeatureSet("l", np.ones((1, 2), np.float32), [FeatureInfo(0, "F0", 1.0, 1.0)])
    assert not match_features(fs, own, other, chance)[0].matched
    flat = match_features(fs, own, other, [np.zeros((200, 1))] * 19)[0]
    assert flat.matched and flat.p_value == pytest.approx(0.05)
    with pytest.raises(RlsightError, match="needs at least 19"):
        match_features(fs, own, other, chance[:18])


def test_an_unrelated_model_is_matched_about_one_time_in_twenty():
    """B drawn like the null networks (k = 8 features each, all independent of A): a test at
    0.05 calls B a match one time in twenty. Comparing B's best of 8 with single null
    features (the test of earlier versions) called it a match in about 40% of such trials."""
    rng = np.random.default_rng(0)
    n, k, trials, hits = 64, 8, 400, 0
    fs = FeatureSet("l", np.ones((1, 2), np.float32), [FeatureInfo(0, "F0", 1.0, 1.0)])
    for _ in range(trials):
        own, other = rng.standard_normal((n, 1)), rng.standard_normal((n, k))
        nulls = [rng.standard_normal((n, k)) for _ in range(19)]
        hits += match_features(fs, own, other, nulls)[0].matched
    assert 0.02 <= hits / trials <= 0.09  # 5%: 20 of 400, binomial s.d. 4.4


def test_same_model_matches_everything(frames):
    obs, actions = frames
    _, _, cmp = _compare(obs, actions, {"red": RED, "green": GREEN}, {"red": RED, "green": GREEN})
    assert not cmp.lacking("a") and not cmp.lacking("b")


def _quadrant_features() -> tuple[QuadrantNet, FeatureSet, int, int]:
    model = QuadrantNet()
    env = QuadrantEnv(None, "train", 32, seed=3)
    obs = np.concatenate([env.step(np.zeros(32, np.int64))[1] for _ in range(4)])
    fs = compute_features(model, obs, np.zeros(len(obs), np.int64), k=2, say=quiet)
    lit = int(np.argmax([c[0] + c[1] for c in fs.components]))
    return model, fs, lit, 1 - lit


def test_ablating_the_feature_that_drives_the_action_changes_the_return():
    model, fs, lit, dark = _quadrant_features()
    assert fs.features[lit].policy_share > fs.features[dark].policy_share
    make = lambda: QuadrantEnv(None, "test", 8, seed=0)  # noqa: E731
    res = ablate_model(model, fs, lit, make, episodes_per_env=4)
    assert res["baseline_return"] > 7.5 and res["ablated_return"] < 2
    assert res["return_change"]["high"] < 0 and res["return_verdict"] == "decrease"
    assert res["verdict"] == "significant change" and res["episodes"] == 32
    unused = ablate_model(model, fs, dark, make, episodes_per_env=4)
    assert unused["return_verdict"] == NO_CHANGE and unused["verdict"] == NO_CHANGE
    assert abs(unused["ablated_return"] - unused["baseline_return"]) < 0.5


def test_the_hook_removes_only_inside_the_block():
    model, fs, lit, _ = _quadrant_features()
    obs = QuadrantEnv(None, "train", 4, seed=0).observe()[1]
    before = model(torch.from_numpy(obs))[0]
    with feature_removed(model, fs, lit):
        during = model(torch.from_numpy(obs))[0]
    after = model(torch.from_numpy(obs))[0]
    assert torch.equal(before, after) and during[:, :4].abs().max() < 1e-4 < before[:, :4].max()


def test_bad_inputs_are_one_line_errors(frames):
    obs, actions = frames
    model = ColourNet({"red": RED})
    with pytest.raises(RlsightError, match=r"'nope'.*encoder\.0, encoder\.1, encoder$") as e:
        resolve_layer(model, "nope")
    assert "\n" not in str(e.value)
    with pytest.raises(RlsightError, match=r"--k 7: layer encoder has 6 channels"):
        compute_features(model, obs[:8], actions[:8], k=7, say=quiet)
    with pytest.raises(RlsightError, match="--attribution 'x'"):
        compute_features(model, obs[:8], actions[:8], k=2, method="x", say=quiet)
    qm, fs, _, _ = _quadrant_features()
    for bad in (2, -1):
        with pytest.raises(RlsightError, match=rf"--feature {bad}: out of range; this run has 2 features \(0..1\)"):
            ablate_model(qm, fs, bad, lambda: QuadrantEnv(None, "test", 2, seed=0), 1)
