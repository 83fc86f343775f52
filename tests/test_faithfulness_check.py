"""The faithfulness check: verdict logic, stored results, CLI errors, report table, captions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlsight.cli.main import main
from rlsight.explain.faithfulness.check import below, store, verdict
from rlsight.explain.faithfulness.report import format_result
from rlsight.explain.verdicts import caption, load_results, stored_verdicts
from rlsight.runs import RunDir
from tests.faith_helpers import model_run


def ci(mean: float, half: float = 0.01) -> dict:
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": 64}


@pytest.mark.parametrize(("crit", "word", "label"), [
    ({"a": True, "b": True, "c": True}, "faithful", "faithful"),
    ({"a": True, "b": False, "c": True}, "weak", "weak"),
    ({"a": False, "b": False, "c": False}, "fails", "fails"),
    ({"a": True, "b": True, "c": None}, "faithful", "faithful (on a, b; c not checked)"),
    ({"a": False, "b": True, "c": None}, "weak", "weak (on a, b; c not checked)"),
    ({"a": False, "b": False, "c": None}, "fails", "fails (on a, b; c not checked)"),
])
def test_verdict_over_the_criteria_checked(crit, word, label):
    v = verdict(crit)
    assert v["verdict"] == word and v["label"] == label
    assert v["checked"] == [k for k, x in crit.items() if x is not None]


def test_below_needs_intervals_that_do_not_overlap():
    assert below(ci(0.10), ci(0.20)) is True
    assert below(ci(0.10, 0.06), ci(0.20, 0.06)) is False  # overlapping: not shown to be lower
    assert below(ci(0.30), ci(0.20)) is False
    assert below(ci(math.nan), ci(0.2)) is False
    assert below(ci(0.1), None) is None


def crafted_result(run: str, method: str = "gradient", other: bool = False) -> dict:
    entry = {"deletion": {"auc": ci(0.1), "ratio_to_random": ci(0.4)},
             "insertion": {"auc": ci(0.5), "ratio_to_random": ci(1.6)},
             "random": {"deletion_auc": ci(0.25), "insertion_auc": ci(0.3)},
             "edge": {"auc": ci(0.2), "ratio_to_random": ci(0.8)},
             "other": {"auc": ci(0.15), "ratio_to_random": ci(0.6)} if other else "n/a",
             "randomisation": {"steps": [{"layer": "top", "abs_nonzero": ci(0.3)}], "criterion": ci(0.3)},
             "stability": ci(0.05), "fps": 12.5}
    crit = {"a": True, "b": True, "c": True if other else None}
    return {"run": run, "game": "starpilot", "encoder": "nature", "model_step": 1000,
            "other": {"run": "<b>other</b>", "encoder": "impala"} if other else None,
            "settings": {"frames": 64, "randomisation": "top block"}, "created": "now", "rlsight_version": "x",
            "results": {method: {"actor": {**entry, "criteria": crit, **verdict(crit)}}}}


def test_a_verdict_holds_for_the_model_and_settings_it_was_checked_with(tmp_path):
    """A picture of the model at another step, or drawn with other settings of the method,
    does not carry the stored verdict as its own."""
    import dataclasses

    from rlsight.explain.saliency.options import MethodOptions
    from rlsight.explain.verdicts import Drawn, targets_caption

    rd = RunDir.open(model_run(tmp_path / "a"))
    checked = crafted_result(str(rd.path), "perturbation-sarfa")
    checked["settings"]["method_options"] = dataclasses.asdict(MethodOptions(radius=2.5))
    store(rd, checked)
    same = Drawn(1000, dataclasses.asdict(MethodOptions(radius=2.5, chunk=64)))  # chunk: speed only
    assert stored_verdicts(rd, "perturbation-sarfa", None, same) == {"actor": "faithful (on a, b)"}
    later = Drawn(2048, same.options)
    assert stored_verdicts(rd, "perturbation-sarfa", None, later) == {
        "actor": "unchecked at step 2,048 (faithful (on a, b) at step 1,000)"}
    default = Drawn(1000, dataclasses.asdict(MethodOptions()))
    assert stored_verdicts(rd, "perturbation-sarfa", None, default) == {
        "actor": "unchecked with these settings (faithful (on a, b) with radius 2.5)"}
    assert "actor unchecked with these settings" in targets_caption({"actor": "perturbation-sarfa"}, rd, None, default)
    # options a method does not use do not matter: gradient maps ignore the radius
    grad = crafted_result(str(rd.path), "gradient")
    grad["settings"]["method_options"] = dataclasses.asdict(MethodOptions(radius=2.5))
    store(rd, grad)
    assert stored_verdicts(rd, "gradient", None, default) == {"actor": "faithful (on a, b)"}
    # on stacked frames, a gradient check made before maps kept one frame of the stack is not of today's maps
    stacked = Drawn(1000, dataclasses.asdict(MethodOptions(stack_frame=-1)))
    old_atari = crafted_result(str(rd.path), "integrated-gradients")
    old_atari["settings"]["method_options"] = stacked.options
    store(rd, old_atari)
    assert stored_verdicts(rd, "integrated-gradients", None, stacked) == {
        "actor": "unchecked with these maps (faithful (on a, b) for maps over the whole stack)"}
    old_atari["settings"]["maps"] = 2  # as checks store it now
    store(rd, old_atari)
    assert stored_verdicts(rd, "integrated-gradients", None, stacked) == {"actor": "faithful (on a, b)"}


def test_results_merge_per_method_and_target(tmp_path):
    rd = RunDir.open(model_run(tmp_path / "a"))
    store(rd, crafted_result(str(rd.path), "gradient"))
    store(rd, crafted_result(str(rd.path), "gradcam", other=True))
    res = load_results(rd)
    assert set(res["results"]) == {"gradient", "gradcam"}
    assert res["results"]["gradient"]["actor"]["check"]["settings"]["frames"] == 64
    assert stored_verdicts(rd, "gradient") == {"actor": "faithful (on a, b)"}
    assert stored_verdicts(rd, "gradcam") == {"actor": "faithful"}
    assert stored_verdicts(rd, "smoothgrad") == {}
    text = format_result(crafted_result(str(rd.path)))
    assert "0.4 [0.39, 0.41]" in text and "n/a" in text
    assert "gradient: actor faithful (on a, b; c not checked) (a yes, b yes, c n/a)" in text
    assert "intervals are 95% bootstrap" in text and "corr. < 0.5 on" in text
    at90 = crafted_result(str(rd.path))
    at90["settings"]["confidence"] = 0.9
    assert "intervals are 90% bootstrap" in format_result(at90)


def test_json_is_strict_without_nan(tmp_path):
    rd = RunDir.open(model_run(tmp_path / "a"))
    r = crafted_result(str(rd.path))
    r["results"]["gradient"]["actor"]["stability"] = ci(math.nan)
    store(rd, r)
    text = (rd.path / "explain" / "faithfulness.json").read_text()
    assert "NaN" not in text and json.loads(text)["results"]["gradient"]["actor"]["stability"]["mean"] is None


def test_a_caption_names_the_targets_drawn_and_only_those(tmp_path):
    from rlsight.explain.verdicts import targets_caption

    rd = RunDir.open(model_run(tmp_path / "a"))
    store(rd, crafted_result(str(rd.path)))  # gradient, actor only
    both = {"actor": "gradient", "critic": "gradient"}
    assert targets_caption(both, rd) == "gradient, check: actor faithful (on a, b), critic unchecked"
    critic_too = crafted_result(str(rd.path))
    critic_too["results"]["gradient"] = {"critic": critic_too["results"]["gradient"]["actor"]}
    store(rd, critic_too)
    assert targets_caption({"actor": "gradient"}, rd) == "gradient, check: actor faithful (on a, b)"  # no critic tile
    assert targets_caption({"critic": "gradient"}, rd) == "gradient, check: critic faithful (on a, b)"


@pytest.mark.procgen
def test_caption_says_unchecked_or_the_stored_verdict(tmp_path):
    from rlsight.explain.saliency.record import record
    from rlsight.explain.saliency.render import RenderOptions

    run = model_run(tmp_path / "a")
    assert caption("gradient", {}) == "gradient, unchecked"
    kw = dict(frames=1, method="gradient", target="actor", render=RenderOptions(size=64, panel=False))
    before = record([run], **kw)
    assert before.settings["captions"] == ["gradient, unchecked"]
    store(RunDir.open(run), crafted_result(str(run)))
    after = record([run], **kw)
    assert after.settings["captions"] == ["gradient, check: actor faithful (on a, b)"]
    shifted = record([run], env_set=["env.distribution_mode=hard"], **kw)  # the check's states were easy ones
    assert shifted.settings["captions"] == ["gradient, check without the shift: actor faithful (on a, b)"]
    under = crafted_result(str(run), other=True)  # a check on states of the hard mode: its own verdict
    store(RunDir.open(run), {**under, "shift": {"distribution_mode": "hard"}})
    assert (run / "explain" / "faithfulness-distribution_mode=hard.json").is_file()
    shifted = record([run], env_set=["env.distribution_mode=hard"], **kw)
    assert shifted.settings["captions"] == ["gradient, check under the shift: actor faithful"]
    assert record([run], **kw).settings["captions"] == ["gradient, check: actor faithful (on a, b)"]  # unchanged
    other_shift = record([run], env_set=["env.use_backgrounds=false"], **kw)
    assert other_shift.settings["captions"] == ["gradient, check without the shift: actor faithful (on a, b)"]
    other_game = record([run], game="coinrun", **kw)  # the check scored starpilot's frames
    assert other_game.settings["captions"] == ["gradient, check without the shift: actor faithful (on a, b)"]
    h = 16  # header rows of a 64-pixel tile: the caption is drawn there, the maps are the same
    assert not np.array_equal(before.frames[0, :h], after.frames[0, :h])
    assert np.array_equal(before.frames[0, h:], after.frames[0, h:])


def test_method_spec_gives_one_method_per_target():
    from rlsight.errors import RlsightError
    from rlsight.explain.saliency.methods import methods_by_target

    assert methods_by_target("gradient") == {"actor": "gradient", "critic": "gradient"}
    spec = "actor=perturbation-sarfa,critic=integrated-gradients"
    assert methods_by_target(spec) == {"actor": "perturbation-sarfa", "critic": "integrated-gradients"}
    assert methods_by_target(spec, ("critic",)) == {"critic": "integrated-gradients"}
    assert methods_by_target("actor=gradient", ("actor",)) == {"actor": "gradient"}
    for bad, words in (("actor=gradient", "no method for critic"), ("actr=gradient,critic=gradient", "'actr'"),
                       ("actor=grad,critic=gradient", "unknown method 'grad'"),
                       ("actor=gradient,actor=gradcam", "twice"), ("gradients", "unknown method 'gradients'")):
        with pytest.raises(RlsightError, match=words):
            methods_by_target(bad)


@pytest.mark.procgen
def test_per_target_methods_draw_each_target_with_its_own_method(tmp_path):
    from rlsight.explain.saliency.record import record
    from rlsight.explain.saliency.render import RenderOptions

    run = model_run(tmp_path / "a")
    store(RunDir.open(run), crafted_result(str(run)))  # gradient: actor faithful (on a, b)
    kw = dict(frames=2, render=RenderOptions(size=64, panel=False))
    grad, ig = record([run], method="gradient", **kw), record([run], method="integrated-gradients", **kw)
    both = record([run], method="actor=gradient,critic=integrated-gradients", **kw)
    assert np.array_equal(both.maps[0]["actor"], grad.maps[0]["actor"])
    assert np.array_equal(both.maps[0]["critic"], ig.maps[0]["critic"])
    assert not np.array_equal(both.maps[0]["critic"], grad.maps[0]["critic"])
    assert both.settings["captions"] == ["actor gradient faithful (on a, b); critic integrated-gradients unchecked"]
    assert main(["saliency", str(run), "--method", "actor=gradient"]) == 2  # the critic has no method


def test_report_shows_the_stored_results_escaped(tmp_path):
    from rlsight.report import build_report
    from tests.analysis_helpers import write_run

    runs = tmp_path / "runs"
    runs.mkdir()
    a = write_run(runs / "a")
    write_run(runs / "b", seed=1)
    r = crafted_result(str(a), "<i>gradient</i>", other=True)
    store(RunDir.open(a), r)
    page = build_report([runs / "a", runs / "b"], tmp_path / "report").read_text()
    assert '<section id="faithfulness">' in page
    assert "&lt;i&gt;gradient&lt;/i&gt;" in page and "<i>gradient</i>" not in page
    assert "&lt;b&gt;other&lt;/b&gt;" in page and "0.4 [0.39, 0.41]" in page and ">faithful<" in page
    empty = build_report([runs / "b"], tmp_path / "report2").read_text()
    assert "No faithfulness results" in empty


def test_report_rows_keep_the_settings_of_their_own_check(tmp_path):
    """Checks of several methods merge into one file; each row shows its own check's frames,
    model step and other model, not those of the newest check."""
    import re

    from rlsight.report import build_report
    from tests.analysis_helpers import write_run

    a = write_run(tmp_path / "runs" / "a")
    first = crafted_result(str(a), "perturbation-sarfa", other=True)
    first["settings"]["frames"] = 256
    store(RunDir.open(a), first)
    later = crafted_result(str(a), "gradient")
    later["settings"]["frames"], later["model_step"] = 64, 2048
    store(RunDir.open(a), later)
    page = build_report([a], tmp_path / "report").read_text()
    table = page[page.index('<section id="faithfulness">'):]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
    by_method = {r[4]: r for r in rows if len(r) > 4}  # run, frames, model step, other model, method, ...
    assert by_method["perturbation-sarfa"][1:4] == ["256", "1000", "&lt;b&gt;other&lt;/b&gt;"]
    assert by_method["gradient"][1:4] == ["64", "2048", "n/a"]


@pytest.mark.parametrize(("args", "expected"), [
    (["--method", "gradient,nope"], "unknown method 'nope'; valid: perturbation, gradient"),
    (["--target", "policy"], "unknown target 'policy'; valid: actor, critic, both"),
    (["--frames", "0"], "--frames 0: must be >= 1"),
    (["--set", "env.num_levels=3"], "--set env.num_levels: a shift of an env.family = 'procgen' run can change only"),
    (["--method", "perturbation", "--stride", "0"], "--stride 0: must be >= 1"),
    (["--method", "integrated-gradients", "--ig-baseline", "bogus"], "--ig-baseline 'bogus': valid: black, blur"),
    (["--samples", "0"], "--samples 0: must be >= 1"),
    (["--device", "gpu"], "--device 'gpu': valid: cpu, cuda, cuda:N"),
    (["--set", "env.distribution_mode=medium"], "distribution_mode"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, expected):
    run = model_run(tmp_path / "a")
    assert main(["saliency-check", str(run), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not (run / "explain").exists()  # stopped before any work


def test_cli_other_run_of_another_game_names_both(tmp_path, capsys):
    run = model_run(tmp_path / "a")
    other = model_run(tmp_path / "b", game="coinrun")
    assert main(["saliency-check", str(run), "--other", str(other), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "coinrun" in err and "starpilot" in err and err.count("\n") == 1
    assert not (run / "explain").exists()


def _assert_ci(d, where):
    assert isinstance(d, dict) and {"mean", "low", "high", "n"} <= set(d), where


def _assert_every_metric(res: dict, methods, targets, other: bool):
    for m in methods:
        for t in targets:
            e = res["results"][m][t]
            w = f"{m}/{t}"
            for part in ("deletion", "insertion", "edge") + (("other",) if other else ()):
                _assert_ci(e[part]["auc"], w)
                _assert_ci(e[part]["ratio_to_random"], w)
            if not other:
                assert e["other"] == "n/a"
            _assert_ci(e["random"]["deletion_auc"], w)
            _assert_ci(e["random"]["insertion_auc"], w)
            _assert_ci(e["stability"], w)
            _assert_ci(e["randomisation"]["criterion"], w)
            for step in e["randomisation"]["steps"]:
                for k in ("signed", "abs", "signed_nonzero", "abs_nonzero"):
                    _assert_ci(step[k], w)
            assert e["fps"] > 0 and e["verdict"] in ("faithful", "weak", "fails")
            assert set(e["criteria"]) == {"a", "b", "c"} and (e["criteria"]["c"] is None) == (not other)


@pytest.mark.slow  # about 35 s on a shared 2-core CPU (perturbation measures its fastest network)
def test_check_scores_every_metric_with_intervals_and_stores_it(tmp_path):
    from rlsight.explain.faithfulness.check import check_run
    from rlsight.explain.saliency.options import CheckOptions
    from rlsight.explain.states import StatesSpec

    run, other = model_run(tmp_path / "a"), model_run(tmp_path / "b", seed=1)
    from rlsight.explain.saliency.options import MethodOptions

    opts = CheckOptions(resamples=200, stability_samples=2, stability_frames=2, deletion_steps=5)
    said: list[str] = []
    methods = ["gradient", "perturbation-logp"]
    res = check_run(run, methods, other=other, frames=4, quick=True, opts=opts, spec=StatesSpec(2, 4),
                    method_options=MethodOptions(stride=16, radius=8, chunk=64), say=said.append)
    assert any("recording 8 frames" in m for m in said)
    _assert_every_metric(res, methods, ("actor", "critic"), other=True)
    assert len(res["results"]["gradient"]["actor"]["randomisation"]["steps"]) == 1  # quick: top block only
    stored = load_results(run)
    assert stored["results"]["gradient"]["actor"]["deletion"] == json.loads(json.dumps(
        res["results"]["gradient"]["actor"]["deletion"]))
    assert stored["settings"]["frames"] == 4 and stored["settings"]["quick"] is True


@pytest.mark.slow
def test_check_under_a_shift_scores_states_of_the_shift_and_stores_them_apart(tmp_path):
    from rlsight.errors import RlsightError
    from rlsight.explain.faithfulness.check import check_run
    from rlsight.explain.saliency.options import CheckOptions
    from rlsight.explain.states import StatesSpec, load_states

    run = model_run(tmp_path / "a", game="coinrun")  # starpilot's hard mode looks the same for its first frames
    opts = CheckOptions(resamples=50, stability_samples=2, stability_frames=2, deletion_steps=3)
    kw = dict(frames=4, quick=True, opts=opts, spec=StatesSpec(2, 4), say=lambda m: None)
    own = check_run(run, ["gradient"], ("actor",), **kw)
    hard = check_run(run, ["gradient"], ("actor",), env_set=["env.distribution_mode=hard"], **kw)
    assert own["shift"] == {} and hard["shift"] == {"distribution_mode": "hard"}
    assert "frames of its state dataset under distribution_mode=hard" in format_result(hard)
    easy_states = load_states(run / "explain" / "states.npz")
    hard_states = load_states(run / "explain" / "states-distribution_mode=hard.npz")
    assert easy_states.meta["distribution_mode"] == "easy" and hard_states.meta["distribution_mode"] == "hard"
    assert hard_states.meta["shift"] == {"distribution_mode": "hard"}
    assert not np.array_equal(easy_states.obs, hard_states.obs)  # the hard mode's levels are played
    assert load_results(run)["shift"] == {} and load_results(run, {"distribution_mode": "hard"})["shift"] == {
        "distribution_mode": "hard"}
    with pytest.raises(RlsightError, match="can change only"):
        check_run(run, ["gradient"], ("actor",), env_set=["env.num_levels=3"], **kw)


@pytest.mark.original
@pytest.mark.procgen  # plays the game
def test_cli_json_on_an_imported_checkpoint_prints_every_metric(original_run_nature, tmp_path, capsys):
    """Acceptance: ``saliency-check RUN --json`` on an imported original checkpoint."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(original_run_nature, run)
    assert main(["saliency-check", str(run), "--quick", "--frames", "16", "--method", "gradient", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "recording 4096 frames" in err
    _assert_every_metric(json.loads(out), ["gradient"], ("actor", "critic"), other=False)
    assert main(["saliency-check", str(run), "--quick", "--frames", "8", "--method", "gradcam"]) == 0
    out, err = capsys.readouterr()
    assert "recording" not in err and "gradcam: actor" in out and "n/a (no --other run)" in out


def test_ratio_to_random_is_a_ratio_of_means_with_a_paired_interval():
    from rlsight.explain.faithfulness.check import ratio_interval

    rng = np.random.default_rng(0)
    r = rng.uniform(0.5, 1.0, 200)
    a = 0.2 * r + rng.normal(0, 0.01, 200)
    ci = ratio_interval(a, r)
    assert ci["mean"] == pytest.approx(a.mean() / r.mean()) and ci["low"] < ci["mean"] < ci["high"]
    assert 0.19 < ci["low"] and ci["high"] < 0.21  # paired: tight, although r varies by a factor 2
    r[0] = 1e-9  # one near-zero random AUC does not blow it up (it would as a mean of ratios)
    assert ratio_interval(a, r)["mean"] < 0.25
    assert math.isnan(ratio_interval([np.nan], [1.0])["mean"])


def test_summary_names_the_faithful_methods_or_says_none_is():
    from rlsight.explain.faithfulness.report import summary_lines

    result = {"results": {
        "gradient": {"actor": {"verdict": "weak"}, "critic": {"verdict": "faithful"}},
        "perturbation": {"actor": {"verdict": "fails"}, "critic": {"verdict": "faithful"}},
    }}
    lines = summary_lines(result)
    assert lines[0].startswith("actor: no method checked here meets every criterion")
    assert lines[1] == "critic: faithful: gradient, perturbation"


def test_stability_frames_spread_over_the_levels():
    """The state dataset is level-major: stability's 64 of 256 frames must come from every
    level (every 4th frame), not from the first 16 levels."""
    from rlsight.explain.faithfulness.check import stability_indices

    assert stability_indices(256, 64).tolist() == list(range(0, 256, 4))
    assert stability_indices(10, 4).tolist() == [0, 2, 5, 7] and stability_indices(3, 3).tolist() == [0, 1, 2]
