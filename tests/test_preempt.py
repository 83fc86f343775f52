"""Pre-emption of plain job scripts (#34 item 5): SIGTERM and the job's warning signal
make ``rlsight train`` write a checkpoint and stop; ``--requeue`` then runs
``scontrol requeue $SLURM_JOB_ID``; the library's ``train()`` leaves SIGTERM to its
caller (submitit's handler in SLURM sweeps). The real-SLURM test is in
tests/test_sweep_slurm.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.runs import RunDir
from rlsight.training import train
from rlsight.training.preempt import parse_signal, requeue, stop_signals
from tests.conftest import tiny_config
from tests.kill_campaign import _env, assert_same, campaign_config

REPO = Path(__file__).resolve().parent.parent


def test_signal_names():
    assert parse_signal("USR1") == parse_signal("sigusr1") == parse_signal(str(int(signal.SIGUSR1))) == signal.SIGUSR1
    assert stop_signals(["USR1", "TERM"]) == (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
    with pytest.raises(RlsightError, match="--signal 'KILL': valid: TERM"):
        parse_signal("KILL")  # cannot be caught: refused rather than silently ignored


def test_bad_train_signal_is_one_line(capsys, tmp_path):
    assert main(["train", "--config", "cpu-quick", "--run-dir", str(tmp_path / "r"), "--signal", "USR7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--signal 'USR7'" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.procgen
def test_library_train_leaves_sigterm_to_its_caller(tmp_path):
    """submitit's handlers (SIGTERM bypassed, USR2 requeues) must stay in charge in SLURM sweeps."""
    def mine(signum, frame):  # pragma: no cover - never called
        pass

    seen = []
    old = signal.signal(signal.SIGTERM, mine)
    try:
        train(tiny_config(train__total_steps=256), tmp_path / "r", progress=False,
              on_update=lambda row: seen.append((signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))))
    finally:
        signal.signal(signal.SIGTERM, old)
    assert seen and all(term is mine for term, _ in seen)
    assert all(getattr(i, "__name__", "") == "_on_signal" for _, i in seen)  # Ctrl-C still checkpoints


def _fake_scontrol(tmp_path: Path, rc: int = 0) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "scontrol.log"
    f = bin_dir / "scontrol"
    f.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "scontrol: error: busy" >&2\nexit {rc}\n')
    f.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log)}


def test_requeue_runs_scontrol_for_this_job_until_the_limit(tmp_path, monkeypatch):
    fake = _fake_scontrol(tmp_path)
    monkeypatch.setenv("PATH", fake["PATH"])
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert requeue(3).startswith("not requeued: not in a SLURM job")
    assert not Path(fake["LOG"]).exists()
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeue(3).startswith("job 4242 requeued (restart 2 of at most 3)")
    assert Path(fake["LOG"]).read_text() == "requeue 4242\n"
    monkeypatch.setenv("SLURM_RESTART_COUNT", "3")
    assert "not requeued: it has been requeued 3 times" in requeue(3)
    assert Path(fake["LOG"]).read_text() == "requeue 4242\n"  # not called again


def test_failed_requeue_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _fake_scontrol(tmp_path, rc=1)["PATH"])
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert requeue(5) == "job 7 not requeued (scontrol: scontrol: error: busy); submit the script again to resume the run"


def _train_cmd(conf: Path, run: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "rlsight.cli.main", "train", "--no-progress", *extra]
    return cmd + (["--resume", str(run)] if (run / "rlsight-run.json").exists() else ["--config", str(conf), "--run-dir", str(run)])


def _signal_after_first_row(cmd: list[str], run: Path, sig: int, env: dict[str, str]) -> subprocess.CompletedProcess:
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    n0 = len(RunDir.open(run).metrics()) if (run / "rlsight-run.json").exists() else 0
    while not ((run / "metrics.csv").is_file() and len(RunDir.open(run).metrics()) > n0):
        assert p.poll() is None and time.time() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


@pytest.mark.slow  # three tiny training processes
def test_sigterm_and_warning_signal_checkpoint_then_requeue_and_resume_equal(tmp_path):
    """SIGTERM, then USR1 (asked for with --signal): each stops training at the end of the update with a
    checkpoint and runs `scontrol requeue`; resuming twice ends equal to an uninterrupted run."""
    conf = tmp_path / "tiny.toml"
    conf.write_text(campaign_config().to_toml())  # 10 updates, a checkpoint after each
    ref = tmp_path / "ref"
    train(campaign_config(), ref, progress=False)
    fake = _fake_scontrol(tmp_path)
    env = dict(_env(), PATH=fake["PATH"], SLURM_JOB_ID="99", SLURM_RESTART_COUNT="0")
    run = tmp_path / "run"
    opts = ("--signal", "USR1", "--requeue")
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        r = _signal_after_first_row(_train_cmd(conf, run, *opts), run, sig, env)
        assert r.returncode == 0, r.stderr
        assert f"{signal.Signals(sig).name}: finishing this update and saving a checkpoint" in r.stdout
        assert "job 99 requeued" in r.stderr
        info, rows = RunDir.open(run).info(), RunDir.open(run).metrics()
        assert info["status"] == "interrupted" and 0 < len(rows) < 10
        assert RunDir.open(run).checkpoints()[-1].name == f"step_{int(rows[-1]['step']):012d}"  # nothing lost
    assert Path(fake["LOG"]).read_text() == "requeue 99\nrequeue 99\n"
    done = subprocess.run(_train_cmd(conf, run, *opts), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "requeue" not in done.stderr, done.stderr  # finished: no requeue
    assert_same(run, ref)
