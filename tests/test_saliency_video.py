"""Rendering, output files and the ``rlsight saliency`` command (acceptance 3, bad input)."""

from __future__ import annotations

import json

import imageio.v2 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.explain.saliency.render import RenderOptions, compose, layout_size, overlay, reduce_map
from rlsight.explain.saliency.video import resolve_output, settings_name, write_frames


def _frames(t: int = 3, h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (t, h, w, 3), dtype=np.uint8)


# -- rendering -------------------------------------------------------------------------

def test_channel_overlay_adds_to_the_chosen_channel_only():
    frame = np.full((32, 32, 3), 100, np.uint8)
    heat = np.zeros((8, 8), np.float32)
    heat[:4, :4] = 1.0
    out = overlay(frame, heat, RenderOptions(color="green", intensity=0.5))
    assert out[2, 2, 1] > 200 and out[2, 2, 0] == 100 and out[2, 2, 2] == 100
    assert (out[28, 28] == 100).all()


def test_colormap_overlay_keeps_unsalient_pixels():
    frame = np.full((32, 32, 3), 50, np.uint8)
    heat = np.zeros((32, 32), np.float32)
    heat[0, 0] = 1.0
    out = overlay(frame, heat, RenderOptions(color="inferno", alpha=1.0))
    assert (out[20, 20] == 50).all() and not (out[0, 0] == 50).all()


def test_reduce_map_mean_and_max():
    maps = torch.zeros(1, 3, 4, 4)
    maps[0, 1] = 3.0
    assert reduce_map(maps, "max")[0, 0, 0] == 3.0
    assert reduce_map(maps, "mean")[0, 0, 0] == 1.0


def test_compose_layout_matches_layout_size():
    from rlsight.explain.saliency.render import ModelFrame

    opts = RenderOptions(size=64)
    mf = ModelFrame("run", np.zeros((64, 64, 3), np.uint8), {"actor": np.ones((64, 64)), "critic": np.zeros((64, 64))},
                    3, 7, np.full(15, 1 / 15), 0.5)
    out = compose([mf, mf], ("actor", "critic"), opts)
    assert out.shape[:2] == layout_size(2, 2, opts)
    assert out.shape[0] % 16 == 0 and out.shape[1] % 16 == 0


@pytest.mark.parametrize("bad", [{"color": "purple"}, {"reduce": "median"}, {"background": "screen"}, {"size": 100}])
def test_bad_render_options_list_the_valid_ones(bad):
    with pytest.raises(RlsightError, match="valid|multiple of 16"):
        RenderOptions(**bad).validate()


# -- output files ----------------------------------------------------------------------

def test_mp4_gif_png_round_trip(tmp_path):
    frames = _frames(5)
    mp4 = write_frames(tmp_path / "a.mp4", frames, fps=10, settings={"method": "gradient"})
    r = iio.get_reader(str(mp4))
    got = [f for f in r]
    assert len(got) == 5 and got[0].shape == (48, 64, 3)
    assert r.get_meta_data()["fps"] == 10
    gif = write_frames(tmp_path / "a.gif", frames, fps=10)
    assert Image.open(gif).n_frames == 5
    png = write_frames(tmp_path / "one.png", frames[:1], settings={"method": "gradient"})
    img = Image.open(png)
    assert img.size == (64, 48) and json.loads(img.text["rlsight"]) == {"method": "gradient"}
    grid = write_frames(tmp_path / "grid.png", frames[:4], grid_cols=2)
    assert Image.open(grid).size == (2 * 64 + 4, 2 * 48 + 4)


def test_existing_file_is_never_silently_replaced(tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(b"keep me")
    with pytest.raises(RlsightError, match="already exists.*--overwrite"):
        write_frames(p, _frames(1))
    assert p.read_bytes() == b"keep me"
    write_frames(p, _frames(1), overwrite=True)
    assert p.read_bytes() != b"keep me"
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]  # no temporary left over


def test_missing_folder_and_unknown_format(tmp_path):
    with pytest.raises(RlsightError, match="does not exist"):
        resolve_output(tmp_path / "nope" / "a.mp4", {})
    with pytest.raises(RlsightError, match=r"\.mp4, \.gif, \.png"):
        resolve_output(tmp_path / "a.avi", {})


def test_a_runs_saliency_folder_is_made_when_missing(tmp_path):
    """The docs say to write videos under RUN/saliency/ (the report shows them there)."""
    from rlsight.config import Config
    from rlsight.runs import RunDir

    run = RunDir.create(tmp_path / "run", Config()).path
    assert resolve_output(run / "saliency" / "a.mp4", {}) == run / "saliency" / "a.mp4"
    assert (run / "saliency").is_dir()
    (run / "saliency").rmdir()
    assert resolve_output(run / "saliency", {"game": "starpilot"}).parent == run / "saliency"
    with pytest.raises(RlsightError, match="does not exist"):  # only a run's saliency/ folder
        resolve_output(tmp_path / "saliency" / "a.mp4", {})
    assert not (tmp_path / "saliency").exists()


def test_folder_output_gets_a_name_from_the_settings(tmp_path):
    s = {"game": "starpilot", "level": 3, "seed": 1, "method": "perturbation", "target": "both", "stride": 4,
         "radius": 5.0, "color": "red", "frames": 8, "runs": ["a"]}
    p = resolve_output(tmp_path, s)
    assert p.parent == tmp_path and p.name == settings_name(s)
    assert all(x in p.name for x in ("starpilot", "L3", "seed1", "perturbation", "stride4", "r5", "n8"))


# -- the command on imported original-project checkpoints (acceptance 3) -------------------------------

@pytest.mark.original
@pytest.mark.procgen  # plays the game
def test_cli_writes_mp4_with_requested_frames_and_size(original_run_nature, tmp_path, capsys):
    out = tmp_path / "one.mp4"
    rc = main(["saliency", str(original_run_nature), "--game", "starpilot", "--level", "2", "--frames", "4",
               "--method", "perturbation", "--stride", "16", "--target", "both", "--size", "96", "--fps", "8",
               "--out", str(out)])
    assert rc == 0
    r = iio.get_reader(str(out))
    frames = [f for f in r]
    h, w = layout_size(1, 2, RenderOptions(size=96))
    assert len(frames) == 4
    assert frames[0].shape == (h, w, 3)
    assert r.get_meta_data()["fps"] == 8
    assert "4 frame(s)" in capsys.readouterr().out
    # the same command again refuses to replace the file
    assert main(["saliency", str(original_run_nature), "--frames", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.original
@pytest.mark.procgen  # plays the game
@pytest.mark.parametrize("mode", ["own", "replay"])
def test_cli_side_by_side_two_models(original_run_nature, original_run_impala, tmp_path, mode):
    out = tmp_path / f"pair-{mode}.mp4"
    rc = main(["saliency", str(original_run_nature), str(original_run_impala), "--frames", "3", "--method", "gradient",
               "--target", "actor", "--size", "64", "--mode", mode, "--out", str(out)])
    assert rc == 0
    frames = [f for f in iio.get_reader(str(out))]
    assert len(frames) == 3 and frames[0].shape[:2] == layout_size(2, 1, RenderOptions(size=64))


def test_video_normalisation_is_one_scale_over_every_model():
    """With --normalize video a model whose maps are ten times weaker is drawn ten times dimmer;
    with frame normalisation each frame has its own peak."""
    import torch

    from rlsight.explain.saliency import RenderOptions
    from rlsight.explain.saliency.record import heat_maps

    a = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    video = heat_maps([{"critic": a}, {"critic": a / 10}], ("critic",), RenderOptions(normalize="video"))
    assert np.isclose(video[0]["critic"].max(), 1.0) and np.isclose(video[1]["critic"].max(), 0.1)
    frame = heat_maps([{"critic": a}, {"critic": a / 10}], ("critic",), RenderOptions(normalize="frame"))
    assert np.allclose(frame[0]["critic"], frame[1]["critic"]) and np.allclose(frame[1]["critic"].max((1, 2)), 1.0)


@pytest.mark.original
@pytest.mark.slow
def test_replay_shows_every_model_the_same_observations(original_run_nature, original_run_impala):
    from rlsight.explain.saliency import MethodOptions, RenderOptions, record

    res = record([original_run_nature, original_run_impala], frames=3, method="perturbation", target="critic",
                 mode="replay", method_options=MethodOptions(stride=16), render=RenderOptions(size=64))
    a, b = res.trajectories
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.actions, b.actions)
    assert not np.allclose(a.values, b.values)  # each model's own value on them
    assert res.maps[0]["critic"].shape == (3, 1, 64, 64)
    assert res.frames.shape[:3] == (3, *layout_size(2, 1, RenderOptions(size=64)))


@pytest.mark.original
@pytest.mark.procgen  # plays the game
def test_png_of_one_frame(original_run_impala, tmp_path):
    out = tmp_path / "f.png"
    assert main(["saliency", str(original_run_impala), "--frames", "1", "--method", "gradcam", "--color", "jet",
                 "--size", "64", "--out", str(out)]) == 0
    img = Image.open(out)
    h, w = layout_size(1, 2, RenderOptions(size=64))
    assert img.size == (w, h)
    assert json.loads(img.text["rlsight"])["method"] == "gradcam"


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["--method", "occlusion"], "perturbation, gradient, smoothgrad, integrated-gradients, gradcam"),
    (["--target", "policy"], "actor, critic, both"),
    (["--color", "purple"], "red, green, blue"),
    (["--game", "pong"], "starpilot"),
    (["--mode", "mirror"], "own, replay"),
    (["--out", "/nonexistent-folder/x.mp4"], "does not exist"),
])
def test_cli_bad_input_lists_valid_choices(tiny_run, args, expected, capsys):
    assert main(["saliency", str(tiny_run), "--frames", "1", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_unloadable_model_names_the_file(tiny_run, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "model.safetensors").write_bytes(b"not a model")
    assert main(["saliency", str(broken), "--frames", "1", "--out", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert str(broken / "model.safetensors") in err
    assert not (tmp_path / "x.mp4").exists()


def test_cli_not_a_run(tmp_path, capsys):
    assert main(["saliency", str(tmp_path), "--frames", "1", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "not an rlsight run directory" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "says"), [
    (["--method", "smoothgrad", "--samples", "0"], "--samples 0: must be >= 1"),
    (["--method", "smoothgrad", "--noise", "-1"], "--noise -1.0: must be >= 0"),
    (["--grid-cols", "-2"], "--grid-cols -2: must be >= 1"),
    (["--radius", "0"], "--radius 0.0: must be > 0"),
])
def test_bad_method_options_are_one_line_before_any_work(tmp_path, capsys, args, says):
    from rlsight.cli.main import main
    from tests.faith_helpers import model_run

    run = model_run(tmp_path / "a")
    assert main(["saliency", str(run), "--frames", "1", "--out", str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and not (tmp_path / "x.png").exists()
