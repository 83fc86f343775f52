"""A full disk (ENOSPC) during a checkpoint, a metrics append, a report build and a
video write: one-line error naming the disk, nothing readable lost, and a run
resumed after space is freed ends exactly like an uninterrupted one."""

from __future__ import annotations

import errno
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsight.cli.main import main
from rlsight.errors import DiskFullError
from rlsight.runs import TIMING_COLUMNS, RunDir
from rlsight.runs.checkpoint import load_tensors
from rlsight.runs.faults import ENV
from rlsight.runs.load import load_policy
from rlsight.training import resume, train
from tests.conftest import tiny_config

pytestmark = pytest.mark.slow


def _cfg():
    # 6 updates of 256 steps, a checkpoint every 2 updates, every checkpoint kept
    return tiny_config(train__total_steps=256 * 6, train__save_step=256 * 2, train__keep_checkpoints=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ref") / "ref"
    train(_cfg(), d, progress=False)
    return d


def assert_same_run(run: Path, ref: Path) -> None:
    """Every non-timing metrics value and every final weight equal the reference's, bit for bit."""
    rows, ref_rows = RunDir.open(run).metrics(), RunDir.open(ref).metrics()
    assert [r["update"] for r in rows] == [r["update"] for r in ref_rows]  # none lost, none twice
    for a, b in zip(rows, ref_rows):
        for k in a:
            if k not in TIMING_COLUMNS:
                assert a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])), (a["update"], k, a[k], b[k])
    w, w_ref = load_tensors(run / "model.safetensors"), load_tensors(ref / "model.safetensors")
    assert w.keys() == w_ref.keys() and all(torch.equal(w[k], w_ref[k]) for k in w)
    assert RunDir.open(run).info()["status"] == "finished"


def _no_temporaries(run: Path) -> None:
    left = list(run.rglob(".*"))
    assert not left, left


def _one_line(msg: str, path: Path) -> None:
    assert "\n" not in msg
    assert "no space left on the disk mounted at" in msg and str(path) in msg


def test_checkpoint_write_fails_previous_checkpoint_loads_and_resume_finishes(tmp_path, monkeypatch, reference):
    run = tmp_path / "run"
    monkeypatch.setenv(ENV, "enospc:checkpoint@2")  # the second checkpoint (step 1024) cannot be written
    with pytest.raises(DiskFullError) as e:
        train(_cfg(), run, progress=False)
    _one_line(str(e.value), run)
    assert f"rlsight train --resume {run}" in str(e.value)
    r = RunDir.open(run)
    assert [c.name for c in r.checkpoints()] == ["step_000000000512"]
    assert r.info()["status"] == "running"
    _no_temporaries(run)
    model, _, step = load_policy(run)  # the previous checkpoint stays loadable
    assert step == 512
    monkeypatch.delenv(ENV)  # space freed
    resume(run, progress=False)
    assert_same_run(run, reference)


def test_final_model_write_fails_and_resume_finishes(tmp_path, monkeypatch, reference):
    """The disk fills while the final model.safetensors is written (every update is done):
    the last checkpoint loads, and the resume only writes the final model."""
    from rlsight.runs import faults

    run = tmp_path / "run"
    point = faults.point

    def full_at_the_final_model(name: str, path: object = "") -> None:
        if name == "write" and Path(str(path)) == run / "model.safetensors":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        point(name, path)

    monkeypatch.setattr(faults, "point", full_at_the_final_model)
    with pytest.raises(DiskFullError) as e:
        train(_cfg(), run, progress=False)
    _one_line(str(e.value), run)
    assert f"rlsight train --resume {run}" in str(e.value)
    assert not (run / "model.safetensors").exists() and RunDir.open(run).info()["status"] == "running"
    _no_temporaries(run)
    assert load_policy(run)[2] == 256 * 6  # the last checkpoint, after the last update
    monkeypatch.setattr(faults, "point", point)  # space freed
    resume(run, progress=False)
    assert_same_run(run, reference)


@pytest.mark.parametrize("error", ["enospc", "edquot"])  # a full disk, a used-up quota
def test_metrics_append_fails_half_way_and_the_cli_says_one_line(tmp_path, monkeypatch, capsys, reference, error):
    run = tmp_path / "run"
    conf = tmp_path / "tiny.toml"
    conf.write_text(_cfg().to_toml())
    monkeypatch.setenv(ENV, f"{error}:metrics@3")  # half of row 3 is on disk, then the disk is full
    assert main(["train", "--config", str(conf), "--run-dir", str(run), "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith("rlsight train: error: ")
    _one_line(err[0], run / "metrics.csv")
    text = (run / "metrics.csv").read_text()
    assert not text.endswith("\n")  # the partial line is there ...
    assert [m["update"] for m in RunDir.open(run).metrics()] == [1, 2]  # ... and readers drop it
    monkeypatch.delenv(ENV)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert_same_run(run, reference)


def test_report_build_fails_and_the_old_report_stays(tmp_path, monkeypatch, reference):
    from rlsight.report.build import build_report

    out = tmp_path / "report"
    build_report([reference], out)
    before = (out / "index.html").read_bytes()
    monkeypatch.setenv(ENV, "enospc:report")
    with pytest.raises(DiskFullError) as e:
        build_report([reference], out, title="second")
    _one_line(str(e.value), out)
    assert (out / "index.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no half-built folder beside it
    monkeypatch.delenv(ENV)
    build_report([reference], out, title="second")
    assert b"second" in (out / "index.html").read_bytes()


@pytest.mark.parametrize("suffix", [".png", ".gif", ".mp4"])
def test_video_write_fails_and_the_old_file_stays(tmp_path, monkeypatch, suffix):
    from rlsight.explain.saliency.video import write_frames

    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    path = tmp_path / f"sal{suffix}"
    write_frames(path, frames)
    before = path.read_bytes()
    monkeypatch.setenv(ENV, "enospc:video")
    with pytest.raises(DiskFullError) as e:
        write_frames(path, frames[::-1], overwrite=True)
    _one_line(str(e.value), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real file system of a given size (root only; skips where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")

    def mount(size_kb: int, remount: bool = False) -> None:
        opts = f"{'remount,' if remount else ''}size={size_kb}k"
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")

    yield mnt, mount
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_real_full_disk_then_more_space_resumes_exactly(small_tmpfs, reference):
    mnt, mount = small_tmpfs
    need = sum(p.stat().st_size for p in reference.rglob("*") if p.is_file()) // 1024
    mount(need * 6 // 10)  # room for part of the run only
    run = mnt / "run"
    with pytest.raises(DiskFullError) as e:
        train(_cfg(), run, progress=False)
    assert "\n" not in str(e.value) and f"no space left on the disk mounted at {mnt}" in str(e.value)
    r = RunDir.open(run)
    assert r.checkpoints(), "the disk filled before the first checkpoint: make it larger"
    load_policy(run)  # the newest checkpoint loads
    mount(need * 4, remount=True)  # space freed
    resume(run, progress=False)
    assert_same_run(run, reference)


def test_mp4_on_a_really_full_disk_keeps_the_old_video(small_tmpfs, capfd):
    """ffmpeg fails to write on a full disk, and imageio-ffmpeg does not say so: the
    truncated file must not replace the old video, and the error is one line."""
    from rlsight.explain.saliency.video import mp4_complete, write_frames

    mnt, mount = small_tmpfs
    mount(64)
    path = mnt / "sal.mp4"
    write_frames(path, np.zeros((2, 16, 16, 3), np.uint8))
    before = path.read_bytes()
    assert mp4_complete(path) and not mp4_complete(_truncated_copy(path, mnt))
    (mnt / "cut.mp4").unlink()
    noise = np.random.default_rng(0).integers(0, 255, (20, 128, 128, 3), dtype=np.uint8)  # about 1 MB as H.264
    capfd.readouterr()
    with pytest.raises(DiskFullError) as e:
        write_frames(path, noise, overwrite=True)
    _one_line(str(e.value), path)
    assert f"mounted at {mnt}" in str(e.value)
    assert path.read_bytes() == before and [p.name for p in mnt.iterdir()] == [path.name]
    assert capfd.readouterr().err == ""  # no ffmpeg chatter besides the one line


def _truncated_copy(path: Path, folder: Path) -> Path:
    cut = folder / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:-16])
    return cut
