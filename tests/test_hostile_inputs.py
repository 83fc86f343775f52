"""Hostile and broken inputs (#34 item 7): a pickled ``.pt`` that would run code on
load is refused without running it; truncated and bit-flipped safetensors files, and
a run's ``rlsight-run.json``/``config.toml`` with wrong types or unknown keys, give a
one-line error on the command line and change nothing on disk. (Schema fuzzing:
tests/test_schema_fuzz.py; HTML/JS in the report: tests/test_report.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlsight.cli.main import main
from rlsight.errors import RlsightError, RunDirError
from rlsight.models.original_import import read_foreign_checkpoint
from rlsight.runs import RunDir
from rlsight.runs.checkpoint import load_tensors, save_tensors
from rlsight.runs.rundir import MARKER
from tests.conftest import tiny_config


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker file appears if code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _evil_pt(tmp_path: Path, marker: Path) -> Path:
    p = tmp_path / "evil.pt"
    torch.save({"encoder.weight": torch.zeros(2), "x": _Payload(marker)}, p)
    return p


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    """The check below could not fail if this payload were harmless."""
    marker = tmp_path / "ran"
    torch.load(_evil_pt(tmp_path, marker), weights_only=False)
    assert marker.exists()


def test_pickled_code_is_refused_without_running_it(tmp_path, capsys):
    marker = tmp_path / "ran"
    pt = _evil_pt(tmp_path, marker)
    with pytest.raises(RlsightError, match="weights_only=True"):
        read_foreign_checkpoint(pt)
    assert main(["import-checkpoint", str(pt), "--game", "starpilot", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evil.pt" in err and "weights_only=True" in err
    assert not marker.exists()  # nothing ran
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def tensor_file(tmp_path_factory) -> bytes:
    """A small checkpoint-like safetensors file, as bytes."""
    p = tmp_path_factory.mktemp("st") / "w.safetensors"
    save_tensors(p, {"encoder.weight": torch.randn(4, 3), "head.bias": torch.randn(5)}, {"step": 7})
    return p.read_bytes()


def _one_line_run_dir_error(p: Path) -> str:
    with pytest.raises(RunDirError) as e:
        load_tensors(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    return msg


@pytest.mark.parametrize("keep", [0, 7, 8, 40, -1])
def test_truncated_safetensors_is_one_line(tmp_path, tensor_file, keep):
    p = tmp_path / "w.safetensors"
    p.write_bytes(tensor_file[:keep] if keep >= 0 else tensor_file[:-1])
    assert "truncated or corrupted" in _one_line_run_dir_error(p)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flipped_bit_in_safetensors_is_one_line(tmp_path, tensor_file, data):
    """One bit flipped anywhere (length prefix, JSON header, padding, tensor bytes) is caught."""
    pos = data.draw(st.integers(0, len(tensor_file) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    b = bytearray(tensor_file)
    b[pos] ^= 1 << bit
    p = tmp_path / "w.safetensors"
    p.write_bytes(bytes(b))
    try:
        load_tensors(p)
    except RunDirError as e:
        assert "\n" not in str(e) and "corrupted" in str(e)
    else:  # only a flip that JSON ignores may load, and then it must load the same tensors
        header_len = int.from_bytes(tensor_file[:8], "little")
        assert 8 <= pos < 8 + header_len, f"flipped bit {bit} of byte {pos} loaded without an error"
        good = tmp_path / "good.safetensors"
        good.write_bytes(tensor_file)
        a, ref = load_tensors(p), load_tensors(good)
        assert a.keys() == ref.keys() and all(torch.equal(a[k], ref[k]) for k in a)


def test_a_flipped_bit_in_a_checkpoint_stops_resume_and_evaluate_in_one_line(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    f = run / "model.safetensors"
    b = bytearray(f.read_bytes())
    b[-10] ^= 0x10  # a weight's byte: safetensors alone would load it as another number
    f.write_bytes(bytes(b))
    out = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "evaluate", str(run), "--episodes", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "model.safetensors: checksum mismatch" in out.stderr
    ck = RunDir.open(run).latest_checkpoint() / "state.safetensors"
    b = bytearray(ck.read_bytes())
    b[len(b) // 2] ^= 0x01
    ck.write_bytes(bytes(b))
    RunDir(run).update_info(status="interrupted")
    (run / "model.safetensors").unlink()
    def files() -> dict[Path, bytes]:  # train.lock is rewritten by every resume (who holds it, since when)
        return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "train.lock"}

    before = files()
    with pytest.raises(RunDirError, match="state.safetensors: checksum mismatch"):
        from rlsight.training import resume

        resume(run, progress=False)
    assert files() == before  # the refused resume changed nothing (metrics and checkpoints kept)


@pytest.mark.parametrize("file, edit, fragment", [
    (MARKER, lambda t: json.dumps({**json.loads(t), "steps": "many"}), "steps = 'many'"),
    (MARKER, lambda t: json.dumps({**json.loads(t), "owner": "<script>"}), "unknown key 'owner'"),
    ("config.toml", lambda t: t.replace("lr = ", "lr = \"fast\" # ", 1), "ppo.lr = 'fast'"),
    ("config.toml", lambda t: t + "\n[ppo2]\nx = 1\n", "unknown config key 'ppo2'"),
])
@pytest.mark.parametrize("command", [["train", "--resume"], ["evaluate"], ["saliency-check"]])
def test_broken_run_files_are_one_line_on_the_command_line(tmp_path, capsys, file, edit, fragment, command):
    run = RunDir.create(tmp_path / "run", tiny_config())
    run.update_info(status="interrupted")
    p = run.path / file
    p.write_text(edit(p.read_text()))
    before = {q: q.read_bytes() for q in run.path.rglob("*") if q.is_file()}
    assert main([*command, str(run.path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and file in err, err
    assert {q: q.read_bytes() for q in run.path.rglob("*") if q.is_file()} == before
