"""Data augmentation (DrAC, RAD) and PPG's auxiliary phase: they learn toy tasks, their
deliberately broken variants fail the same checks, and a stopped run resumes exactly."""

from __future__ import annotations

import math

import pytest
import torch

from rlsight.config import Config, load, resolve_config_path
from rlsight.errors import ConfigError
from rlsight.models.policy import ActorCritic
from rlsight.ppo import augment, ppg
from rlsight.runs import TIMING_COLUMNS, RunDir
from rlsight.runs.checkpoint import load_tensors
from rlsight.training import resume, train
from tests.conftest import tiny_config
from tests.toy_env import EPISODE, MAX_SHIFT, QuadrantEnv, ShiftedCueEnv

TOY = dict(env__num_envs=16, env__num_test_envs=8, ppo__num_steps=32, ppo__batch_size=128, ppo__num_epochs=3,
           ppo__lr=1e-3, ppo__gamma=0.9, ppo__normalize_reward=False, ppo__entropy_coef=0.0,
           train__total_steps=16 * 32 * 20, train__save_step=10**9)
# Measured on the toy tasks (held-out return of the last 3 updates, out of EPISODE = 8; random 0.53):
# ShiftedCueEnv: plain PPO 3.5, DrAC 7.45, DrAC with the augmentation in the value target only 3.47.
# QuadrantEnv: PPG 7.92, PPG with the auxiliary value loss's sign flipped 1.99 (one action always).
GENERALISES = 0.75 * EPISODE


def _held_out_return(tmp_path, env, **overrides) -> float:
    cfg = tiny_config(**{**TOY, **overrides})
    run = train(cfg, tmp_path / "toy", progress=False, env_factory=env)
    rows = RunDir.open(run.path).metrics()
    return sum(r["test_return"] for r in rows[-3:]) / 3


# -- augmentation ---------------------------------------------------------------------------------


def test_shift_moves_each_frame_by_at_most_pad_and_keeps_its_pixels():
    torch.manual_seed(0)
    obs = torch.zeros((64, 16, 16, 3), dtype=torch.uint8)
    obs[:, 6:10, 6:10] = torch.arange(1, 65, dtype=torch.uint8)[:, None, None, None]
    for kind in ("crop", "translate"):
        out = augment.random_shift(obs, 3, kind)
        assert out.shape == obs.shape and out.dtype == torch.uint8
        moved = set()
        for i in range(64):
            ys, xs = torch.nonzero(out[i, :, :, 0], as_tuple=True)
            assert len(ys) == 16 and (out[i][out[i] > 0] == i + 1).all()  # the same square, nothing else
            dy, dx = int(ys.min()) - 6, int(xs.min()) - 6
            assert max(abs(dy), abs(dx)) <= 3
            moved.add((dy, dx))
        assert len(moved) > 10, f"{kind}: offsets hardly vary ({moved})"


def test_crop_repeats_the_edge_and_translate_leaves_it_black():
    torch.manual_seed(1)
    obs = torch.full((32, 8, 8, 1), 200, dtype=torch.uint8)
    assert (augment.random_shift(obs, 2, "crop") == 200).all()
    translated = augment.random_shift(obs, 2, "translate")
    assert (translated == 0).any() and set(translated.unique().tolist()) == {0, 200}


def test_drac_regulariser_is_zero_for_equal_outputs_and_pulls_only_the_augmented_side():
    logits = torch.randn(5, 15, requires_grad=True)
    value = torch.randn(5, requires_grad=True)
    assert float(augment.drac_regulariser(logits, value, logits.detach().clone(), value.detach().clone())) == pytest.approx(0, abs=1e-6)
    aug_logits = torch.randn(5, 15, requires_grad=True)
    aug_value = torch.randn(5, requires_grad=True)
    g = augment.drac_regulariser(logits, value, aug_logits, aug_value)
    assert float(g) > 0
    g.backward()
    assert logits.grad is None and value.grad is None  # the un-augmented outputs are the fixed targets
    assert aug_logits.grad is not None and aug_value.grad is not None


def test_unknown_augmentation_is_refused_in_one_line():
    with pytest.raises(ConfigError) as e:
        load(resolve_config_path("cpu-30min"), ["ppo.augment=flip"])
    assert str(e.value) == "ppo.augment = 'flip': valid: off, crop, translate"


@pytest.mark.slow
def test_drac_generalises_to_shifted_frames(tmp_path):
    ret = _held_out_return(tmp_path, ShiftedCueEnv, ppo__augment="translate", ppo__augment_pad=MAX_SHIFT)
    assert ret >= GENERALISES, f"DrAC: held-out (shifted) return {ret:.2f} < {GENERALISES}"


@pytest.mark.slow
def test_augmentation_in_the_value_target_only_fails_the_same_check(tmp_path, monkeypatch):
    # the broken variant: the shifted frames only give the value a target; the policy never sees them
    monkeypatch.setattr(augment, "drac_regulariser", lambda lg, v, al, av: ((v - av.detach()) ** 2).sum())
    ret = _held_out_return(tmp_path, ShiftedCueEnv, ppo__augment="translate", ppo__augment_pad=MAX_SHIFT)
    assert ret < GENERALISES, f"a broken DrAC reached {ret:.2f}"


# -- PPG --------------------------------------------------------------------------------------------


def _aux_setup():
    torch.manual_seed(0)
    cfg = Config()
    cfg.model.encoder, cfg.model.n_features = "nature", 32
    cfg.ppo.batch_size, cfg.ppo.ppg_aux_epochs = 32, 10
    model = ActorCritic(cfg.model, aux_value=True)
    obs = torch.randint(0, 255, (64, 64, 64, 3), dtype=torch.uint8)
    obs[:32, :32] //= 4  # half the frames darker at the top: the value target is 1 there, -1 elsewhere
    returns = torch.where(torch.arange(64) < 32, 1.0, -1.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return cfg, model, obs, returns, opt


def _aux_error_and_kl(model, obs, returns, old_logits):
    with torch.no_grad():
        logits, _, aux = model.forward_aux(obs)
    kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=old_logits),
                                           torch.distributions.Categorical(logits=logits)).mean()
    return float(((aux - returns) ** 2).mean()), float(kl)


def test_aux_phase_fits_the_aux_value_and_the_cloning_kl_keeps_the_policy():
    kls = {}
    for clone in (1.0, 0.0):
        cfg, model, obs, returns, opt = _aux_setup()
        cfg.ppo.ppg_clone_coef = clone
        with torch.no_grad():
            old_logits = model(obs)[0]
        before, _ = _aux_error_and_kl(model, obs, returns, old_logits)
        stats = ppg.aux_phase(model, opt, obs, returns, cfg.ppo)
        after, kls[clone] = _aux_error_and_kl(model, obs, returns, old_logits)
        assert after < 0.5 * before, (clone, before, after)
        assert math.isfinite(stats["aux_value_loss"]) and math.isfinite(stats["aux_kl"])
    assert kls[1.0] < 0.5 * kls[0.0], kls


def test_aux_phase_with_the_value_loss_sign_flipped_does_not_fit(monkeypatch):
    monkeypatch.setattr(ppg, "aux_loss", _flipped_aux_loss)
    cfg, model, obs, returns, opt = _aux_setup()
    with torch.no_grad():
        old_logits = model(obs)[0]
    before, _ = _aux_error_and_kl(model, obs, returns, old_logits)
    ppg.aux_phase(model, opt, obs, returns, cfg.ppo)
    after, _ = _aux_error_and_kl(model, obs, returns, old_logits)
    assert after > before, (before, after)


def test_a_network_without_the_aux_head_says_so():
    cfg = Config()
    with pytest.raises(ValueError, match="auxiliary value head"):
        ActorCritic(cfg.model).forward_aux(torch.zeros((1, 64, 64, 3), dtype=torch.uint8))


def _flipped_aux_loss(logits, value, aux_value, old_logits, returns, clone_coef):
    """ppg.aux_loss with the value part's sign flipped (the deliberately broken variant)."""
    vl = 0.5 * ((aux_value - returns) ** 2).sum() + 0.5 * ((value - returns) ** 2).sum()
    kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=old_logits),
                                           torch.distributions.Categorical(logits=logits)).sum()
    return -vl + clone_coef * kl, vl.detach(), kl.detach()


@pytest.mark.slow
def test_ppg_learns_the_quadrant_task(tmp_path):
    ret = _held_out_return(tmp_path, QuadrantEnv, ppo__ppg_policy_phases=4, ppo__ppg_aux_epochs=2)
    assert ret >= GENERALISES, f"PPG: held-out return {ret:.2f} < {GENERALISES}"


@pytest.mark.slow
def test_ppg_with_the_value_loss_sign_flipped_fails_the_same_check(tmp_path, monkeypatch):
    monkeypatch.setattr(ppg, "aux_loss", _flipped_aux_loss)
    ret = _held_out_return(tmp_path, QuadrantEnv, ppo__ppg_policy_phases=4, ppo__ppg_aux_epochs=2)
    assert ret < GENERALISES, f"a broken PPG reached {ret:.2f}"


# -- resume and the default ---------------------------------------------------------------------------


@pytest.mark.slow
def test_drac_and_ppg_run_stopped_mid_cycle_resumes_exactly(tmp_path):
    cfg = tiny_config(env__num_envs=4, env__num_test_envs=2, ppo__num_steps=16, ppo__batch_size=32,
                      ppo__augment="crop", ppo__ppg_policy_phases=3, ppo__ppg_aux_epochs=1,
                      train__total_steps=64 * 7, train__save_step=10**9, train__keep_checkpoints=0)
    ref = train(cfg, tmp_path / "ref", progress=False, env_factory=QuadrantEnv)
    # stop after update 4: one rollout waits in PPG's store (it goes into the checkpoint)
    train(cfg, tmp_path / "cut", progress=False, env_factory=QuadrantEnv, on_update=lambda row: row["update"] >= 4)
    cut = RunDir.open(tmp_path / "cut")
    assert cut.info()["status"] == "interrupted"
    assert any(k.startswith("extra.ppg.obs.") for k in load_tensors(cut.latest_checkpoint() / "state.safetensors"))
    run = resume(tmp_path / "cut", progress=False, env_factory=QuadrantEnv)
    a, b = ref.metrics(), run.metrics()
    assert len(a) == len(b) == 7
    for x, y in zip(a, b):
        for k in x:
            if k not in TIMING_COLUMNS:
                assert x[k] == y[k] or (math.isnan(x[k]) and math.isnan(y[k])), (k, x[k], y[k])
    wa, wb = load_tensors(ref.path / "model.safetensors"), load_tensors(run.path / "model.safetensors")
    assert wa.keys() == wb.keys() and "aux_value.weight" in wa
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_new_keys_default_off_and_leave_the_default_hash_alone():
    # the hashes of the default config and of procgen-paper before these keys existed (runs recorded them)
    c = Config()
    assert (c.ppo.augment, c.ppo.ppg_policy_phases) == ("off", 0)
    assert c.hash() == load(resolve_config_path("procgen-paper")).hash() == "a6b2131e36c264dd"
    c.ppo.augment = "crop"
    assert c.hash() != "a6b2131e36c264dd"
