"""System tests on a real single-node SLURM cluster (Debian's slurm-wlm + munge,
started by scripts/slurm-up.sh): a tiny sweep through ``--launcher slurm``, a
requeued job that resumes its run, and a hand-written job script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.runs import RunDir
from rlsight.sweep import load
from tests.conftest import tiny_config

pytestmark = [pytest.mark.system, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def slurm() -> None:
    """Start (or check) the single-node cluster; skip without SLURM, except under CI."""
    why = None
    if not shutil.which("sbatch"):
        why = "sbatch not on PATH: apt-get install -y slurm-wlm munge, then scripts/slurm-up.sh"
    elif os.geteuid() != 0 and subprocess.run(["sinfo", "-h"], capture_output=True).returncode != 0:
        why = "no SLURM cluster running and not root: run sudo scripts/slurm-up.sh"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)
    if os.geteuid() == 0:
        r = subprocess.run(["bash", str(REPO / "scripts" / "slurm-up.sh")], capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr


def _state(job: str) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.split()
    return out[0] if out else "GONE"


def _sweep(tmp: Path, body: str) -> Path:
    (tmp / "tiny.toml").write_text(tiny_config().to_toml())
    f = tmp / "slurm-sweep.toml"
    f.write_text('base = "tiny.toml"\n' + textwrap.dedent(body))
    return f


SLURM_SECTION = """
    [slurm]
    cpus_per_task = 1
    mem_gb = 1
    time_min = 10
    array_parallelism = 2
    """


def test_tiny_sweep_runs_to_completion_on_slurm(slurm, tmp_path):
    f = _sweep(tmp_path, """
        strategy = "grid"
        [params]
        "ppo.lr" = [1e-4, 1e-3]
        [objective]
        metric = "test_reward_rate"
        """ + SLURM_SECTION)
    d = tmp_path / "sw"
    assert main(["sweep", "run", str(f), "--dir", str(d), "--launcher", "slurm"]) == 0
    _, recs = load(d)
    assert [r.state for r in recs] == ["COMPLETE", "COMPLETE"]
    for r in recs:
        assert r.slurm_job and Path(r.log).is_file()  # ran as a SLURM job, its log kept
        assert f"trial {r.number} complete" in Path(r.log).read_text()
        assert RunDir.open(d / r.run_dirs[0]).info()["status"] == "finished"


def test_requeued_job_resumes_its_run_from_the_last_checkpoint(slurm, tmp_path):
    f = _sweep(tmp_path, """
        strategy = "grid"
        [set]
        "train.total_steps" = 8192
        "train.save_step" = 256
        [params]
        "ppo.lr" = [3e-4]
        [objective]
        metric = "test_reward_rate"
        """ + SLURM_SECTION)
    d = tmp_path / "sw"
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rlsight.cli.main", "sweep", "run", str(f), "--dir", str(d),
                                 "--launcher", "slurm"], stdout=out, stderr=subprocess.STDOUT)
    try:
        _check_requeue(proc, d, log)
    finally:
        if proc.poll() is None:
            proc.kill()


def _driver_output(d: Path, log: Path) -> str:
    """The sweep driver's output and the trial jobs' logs, for a failure message."""
    parts = [f"--- sweep driver ({log}):\n{log.read_text() if log.is_file() else '(none)'}"]
    for p in sorted((d / "slurm").glob("*/*_log.*")):
        parts.append(f"--- {p}:\n{p.read_text()[-4000:]}")
    return "\n".join(parts)


def _check_requeue(proc: subprocess.Popen, d: Path, log: Path) -> None:
    def out() -> str:
        return _driver_output(d, log)

    run = d / "trials" / "0000" / "seed0"
    deadline = time.time() + 180
    while not list((run / "checkpoints").glob("step_*")):
        assert proc.poll() is None and time.time() < deadline, "no checkpoint appeared\n" + out()
        time.sleep(0.3)
    job = load(d)[1][0].slurm_job
    # the time-limit warning SLURM sends (submitit asks for USR2): submitit calls
    # TrialJob.checkpoint, requeues the job, and SLURM kills it after KillWait
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    while _state(job) != "PENDING":
        assert proc.poll() is None and time.time() < deadline + 60, f"job {job} not requeued\n" + out()
        time.sleep(0.2)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)  # skip the requeue delay
    rc = proc.wait(timeout=300)
    assert rc == 0, f"sweep exited {rc}\n" + out()
    recs = load(d)[1]
    assert len(recs) == 1, out()
    [rec] = recs
    assert rec.state == "COMPLETE" and rec.retry_of is None, out()  # the same trial, continued by SLURM
    r = RunDir.open(run)
    assert [m["step"] for m in r.metrics()] == [256.0 * i for i in range(1, 33)], out()
    assert len(list((run / "tb").glob("events.*"))) >= 2, out()  # trained by two processes: started, then resumed


def test_jobscript_submitted_with_sbatch_trains(slurm, tmp_path):
    (tmp_path / "tiny.toml").write_text(tiny_config().to_toml())
    script, run = tmp_path / "job.sh", tmp_path / "run"
    assert main(["jobscript", "--config", str(tmp_path / "tiny.toml"), "--run-dir", str(run), "--time", "10",
                 "--mem", "1G", "--setup", f"export PATH={Path(sys.executable).parent}:$PATH",
                 "--out", str(script)]) == 0
    out = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=True)
    job = out.stdout.strip().split(";")[0]
    deadline = time.time() + 180
    while job in subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split():
        assert time.time() < deadline
        time.sleep(1)
    assert RunDir.open(run).info()["status"] == "finished"


def _job_field(job: str, name: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True).stdout
    return next((f.split("=", 1)[1] for f in out.split() if f.startswith(name + "=")), "")


def test_preempted_jobscript_job_requeues_itself_and_ends_like_an_uninterrupted_run(slurm, tmp_path):
    """#34 item 5: a job from `rlsight jobscript` gets its warning signal (USR1, asked for with
    --signal) and later SIGTERM (what pre-emption sends); each time it writes a checkpoint and
    requeues itself; it finishes with the metrics and weights of an uninterrupted run."""
    from rlsight.training import train
    from tests.kill_campaign import assert_same, campaign_config

    conf, script, run = tmp_path / "tiny.toml", tmp_path / "job.sh", tmp_path / "run"
    conf.write_text(campaign_config().to_toml())  # 10 updates, a checkpoint after each
    assert main(["jobscript", "--config", str(conf), "--run-dir", str(run), "--time", "10", "--mem", "1G",
                 "--signal", "B:USR1@60", "--setup", f"export PATH={Path(sys.executable).parent}:$PATH",
                 "--setup", f"export PYTHONPATH={REPO}", "--out", str(script)]) == 0
    assert "#SBATCH --signal=B:USR1@60" in script.read_text()
    job = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True,
                         check=True).stdout.strip().split(";")[0]
    try:
        def out() -> str:
            logs = sorted(tmp_path.glob("*.out"))
            return f"job {job}: " + _job_field(job, "JobState") + "\n" + "\n".join(p.read_text()[-3000:] for p in logs)

        deadline = time.time() + 150
        for sig in ("USR1", "TERM"):
            rows = len(RunDir.open(run).metrics()) if (run / "metrics.csv").is_file() else 0
            while not ((run / "metrics.csv").is_file() and len(RunDir.open(run).metrics()) > rows):
                assert time.time() < deadline, f"no training progress before {sig}\n" + out()
                time.sleep(0.1)
            subprocess.run(["scancel", "--batch", f"--signal={sig}", job], check=True)
            while _state(job) != "PENDING":
                assert time.time() < deadline, f"job {job} not requeued after {sig}\n" + out()
                time.sleep(0.2)
            assert RunDir.open(run).info()["status"] == "interrupted", out()
            # skip most of the requeue delay; not all: a start in the second slurmd revoked the job's
            # old credential in is refused ("Job credential revoked") and fails the job
            time.sleep(3)
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
        while _state(job) != "GONE":
            assert time.time() < deadline, "job did not finish\n" + out()
            time.sleep(0.5)
        assert _job_field(job, "Restarts") == "2", out()  # requeued twice, by the job itself
        assert _job_field(job, "JobState") == "COMPLETED", out()
        train(campaign_config(), tmp_path / "ref", progress=False)  # the uninterrupted reference
        assert_same(run, tmp_path / "ref")  # every metrics row once, the same weights
    finally:
        subprocess.run(["scancel", job], capture_output=True)
