"""User mistakes through the command line: one line on stderr, no traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import original_checkpoint


def rlsight(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``python -m rlsight.cli.main ARGS`` in a new process."""
    return subprocess.run([sys.executable, "-m", "rlsight.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def rlsight_here(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """The same command in this process (no interpreter start-up): what ``main`` prints and
    returns, or the exit of argparse; any other exception propagates, as a traceback would."""
    from rlsight.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(["rlsight", *args], code, out.getvalue(), err.getvalue())


def _one_line_error(p: subprocess.CompletedProcess, fragment: str) -> None:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert fragment in p.stderr, p.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--config", "cpu-quick", "--set", "env.game=pong"], "valid: bigfish"),
        (["train", "--config", "cpu-quick", "--set", "env.distribution_mode=nightmare"], "valid modes"),
        (["train", "--config", "cpu-quick", "--set", "ppo.lrr=0.1"], "did you mean 'ppo.lr'"),
        (["train", "--config", "cpu-quick", "--set", "ppo.lr=-0.1"], "must be > 0"),
        (["train", "--config", "cpu-quick", "--set", "ppo.batch_size=999"], "must divide"),
        (["train", "--config", "cpu-quick", "--set", "env.num_envs=0"], "must be >= 1"),
        (["train"], "give --config"),
        (["train", "--config", "cpu-quick", "--set", "ppo.lr=inf"], "ppo.lr = inf: Input should be a finite number"),
        (["config", "--set", "ppo.lr=1"], "--set ppo.lr=1: give the config FILE or preset it changes"),
        (["evaluate", "/nonexistent/run", "--device", "gpu"], "--device 'gpu': valid: cpu, cuda, cuda:N"),
        (["evaluate", "/nonexistent/run"], "no such run directory"),
        (["import-checkpoint", "/nonexistent.pt", "--game", "starpilot", "--out", "x"], "file not found"),
    ],
)
def test_bad_input_is_one_clear_line(args, fragment, tmp_path):
    _one_line_error(rlsight_here(*args, cwd=tmp_path), fragment)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unknown_game_on_import(tmp_path):
    ck = original_checkpoint("0_baseline")
    _one_line_error(rlsight_here("import-checkpoint", str(ck), "--game", "pong", "--out", str(tmp_path / "x")), "valid: bigfish")


def test_existing_run_dir_through_cli(tiny_run):
    _one_line_error(rlsight("train", "--config", "cpu-quick", "--run-dir", str(tiny_run)), "already exists")


def test_config_lists_keys():
    p = rlsight("config")
    assert p.returncode == 0 and "ppo.clip_eps" in p.stdout and "original: eps" in p.stdout


def test_train_help_lists_every_preset():
    from rlsight import presets

    out = rlsight_here("train", "--help").stdout
    assert all(name in " ".join(out.split()).replace("- ", "-") for name in presets.names())


def test_a_reader_that_stops_early_gets_no_traceback():
    """``rlsight config | head -1``: the pipe closes under the printing, which ends quietly.
    Here the reading end is closed before the command starts, so every write meets it closed."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output buffered, as in a shell
    for args in (["config"], ["config", "cpu-quick"]):  # 8 KB, printed in blocks; 1.4 KB, written by the last flush
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run([sys.executable, "-m", "rlsight.cli.main", *args], stdout=w, stderr=subprocess.PIPE,
                               env=env)
        finally:
            os.close(w)
        assert p.returncode == 141 and p.stderr.decode() == "", args
