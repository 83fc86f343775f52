"""rlsight jobscript: sbatch and bsub scripts for one training run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.sweep.jobscript import megabytes, minutes
from tests.conftest import tiny_config


@pytest.fixture
def cfg_file(tmp_path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(tiny_config().to_toml())
    return p


def _script(tmp_path, *args, name: str = "job.sh") -> str:
    out = tmp_path / name
    assert main(["jobscript", *args, "--out", str(out)]) == 0
    assert subprocess.run(["bash", "-n", str(out)]).returncode == 0  # valid shell
    return out.read_text()


def test_sbatch_script(tmp_path, cfg_file, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a relative --run-dir, as on a cluster's login node
    text = _script(tmp_path, "--config", str(cfg_file), "--set", "ppo.lr=3e-4", "--run-dir", "runs/a",
                   "--partition", "gpu", "--time", "1-02:00:00", "--cpus", "8", "--gpus", "2", "--mem", "16G",
                   "--mail", "me@uni.edu", "--setup", "module load cuda")
    for line in ["#SBATCH --partition=gpu", "#SBATCH --time=1-02:00:00", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --gres=gpu:2", "#SBATCH --mem=16384M", "#SBATCH --mail-user=me@uni.edu",
                 "#SBATCH --mail-type=END,FAIL", "module load cuda"]:
        assert line in text.splitlines()
    assert f"--config {cfg_file.resolve()} --set ppo.lr=3e-4 --set train.torch_threads=8" in text
    assert f"RUN_DIR={(Path.cwd() / 'runs' / 'a')}" in text  # absolute: the job may start elsewhere
    assert 'train --resume "$RUN_DIR"' in text  # submitting again resumes
    # SLURM opens --output before the script runs: the log's folder is made now, and said so
    assert (tmp_path / "runs").is_dir() and f"made {tmp_path / 'runs'} for the job's log" in capsys.readouterr().err


def test_bsub_script_without_mail(tmp_path, cfg_file):
    text = _script(tmp_path, "--scheduler", "lsf", "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"),
                   "--queue", "short", "--time", "90", "--gpus", "1", "--mem", "500M")
    lines = text.splitlines()
    for line in ["#BSUB -q short", "#BSUB -W 1:30", '#BSUB -gpu "num=1"', '#BSUB -R "rusage[mem=500]"']:
        assert line in lines
    assert not any(x.startswith(("#BSUB -u", "#BSUB -N", "#SBATCH")) for x in lines)
    text = _script(tmp_path, "--scheduler", "lsf", "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"),
                   "--mail", "me@uni.edu", "--mail-on", "begin,end", name="mail.sh")
    assert {"#BSUB -u me@uni.edu", "#BSUB -B", "#BSUB -N"} <= set(text.splitlines())


@pytest.mark.slow  # two real training runs through bash
def test_script_runs_then_resumes_then_reports_finished(tmp_path, cfg_file):
    """The script is plain bash: run it here twice (what resubmitting does)."""
    run = tmp_path / "r"
    text = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(run))
    text = text.replace("exec rlsight", f"exec {Path(sys.executable)} -m rlsight.cli.main")
    (tmp_path / "job.sh").write_text(text)
    assert subprocess.run(["bash", str(tmp_path / "job.sh")], capture_output=True).returncode == 0
    from rlsight.runs import RunDir

    assert RunDir.open(run).info()["status"] == "finished"
    again = subprocess.run(["bash", str(tmp_path / "job.sh")], capture_output=True, text=True)
    assert again.returncode == 0 and "already finished" in again.stdout


@pytest.mark.parametrize("args,message", [
    (["--set", "ppo.lrr=1"], "unknown config key 'ppo.lrr'"),
    (["--time", "1:30"], "--time '1:30'"),
    (["--mem", "lots"], "--mem 'lots'"),
    (["--mail", "nobody"], "--mail 'nobody'"),
    (["--mail", "a@b.c", "--mail-on", "never"], "--mail-on 'never'"),
    (["--set", "env.num_levels=0"], "env.num_levels = 0: procgen trains on every level seed"),  # train would refuse it
])
def test_bad_jobscript_input(tmp_path, cfg_file, capsys, args, message):
    out = tmp_path / "job.sh"
    assert main(["jobscript", "--config", str(cfg_file), *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_time_and_memory_units():
    assert (minutes("45"), minutes("01:30:00"), minutes("2-00:00:30")) == (45, 90, 2881)
    assert (megabytes("2G"), megabytes("512M"), megabytes("1.5")) == (2048, 512, 1536)
    with pytest.raises(RlsightError):
        minutes("0")


def test_sbatch_script_checkpoints_and_requeues_on_its_signals(tmp_path, cfg_file):
    text = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"), "--time", "60")
    lines = text.splitlines()
    assert "#SBATCH --requeue" in lines and "#SBATCH --signal=B:USR1@120" in lines
    resume, new = [line.strip() for line in lines if line.strip().startswith("exec ")]
    assert resume.endswith("--lock-wait 120 --signal USR1 --requeue --max-requeues 20")
    assert new.endswith("--no-progress --signal USR1 --requeue --max-requeues 20")
    text = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"), "--time", "3",
                   "--signal", "none", "--max-requeues", "2", name="none.sh")
    assert "--signal" not in text and "--requeue --max-requeues 2" in text  # SIGTERM still checkpoints
    short = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"), "--time", "3", name="s.sh")
    assert "#SBATCH --signal=B:USR1@90" in short  # the default warning, half-way through a short job
    lsf = _script(tmp_path, "--scheduler", "lsf", "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"),
                  name="lsf.sh")
    assert "--signal" not in lsf and "--requeue" not in lsf


@pytest.mark.parametrize("args,message", [
    (["--signal", "B:KILL@60"], "--signal 'KILL': valid: TERM"),
    (["--signal", "B:USR1@600", "--time", "10"], "600 s before the time limit must be"),
    (["--signal", "USR1@@3"], "give B:SIG@SECONDS"),
    (["--scheduler", "lsf", "--signal", "B:USR2@60"], "is for --scheduler slurm"),
    (["--max-requeues", "-1"], "--max-requeues -1"),
])
def test_bad_signal_options(tmp_path, cfg_file, capsys, args, message):
    out = tmp_path / "job.sh"
    assert main(["jobscript", "--config", str(cfg_file), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_script_appends_its_log_runs_this_python_and_pins_threads_to_the_cpus(tmp_path, cfg_file):
    """A requeued job keeps its log (--open-mode=append); without --setup the node runs this
    interpreter (a bare `rlsight` is not on a node's PATH unless the setup activates it); one
    requested CPU means one torch thread, not every core of the node."""
    import shlex
    import sys

    text = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(tmp_path / "r"))
    assert "#SBATCH --open-mode=append" in text.splitlines()
    assert f"exec {shlex.quote(sys.executable)} -m rlsight.cli.main train --config" in text
    assert "--set train.torch_threads=1" in text
    with_setup = _script(tmp_path, "--config", str(cfg_file), "--run-dir", str(tmp_path / "r2"),
                         "--setup", "source ~/venv/bin/activate", name="job2.sh")
    assert "exec rlsight train --config" in with_setup
