"""Sweeps: bad input, one-at-a-time on real tiny runs, crashes, SIGKILL and
resume, TPE with pruning, storage back-ends, the local launcher's sharing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.sweep import SweepError, load, load_sweep, run_sweep
from tests.conftest import tiny_config


def write(tmp: Path, body: str, name: str = "sweep.toml", base: dict | None = None) -> Path:
    (tmp / "tiny.toml").write_text(tiny_config(**(base or {})).to_toml())
    p = tmp / name
    p.write_text('base = "tiny.toml"\n' + textwrap.dedent(body))
    return p


@pytest.fixture
def fakes():
    """The sweep-file line that makes trials use tests/sweep_fakes.py instead of training."""
    return 'train_fn = "tests.sweep_fakes:train"\n'


def by_state(recs, state):
    return [r for r in recs if r.state == state]


# -- bad input: clear errors before anything starts ----------------------------------------

BAD = [
    ('strategy = "grid"\n[params]\n"ppo.lrr" = [1e-4]\n', "unknown parameter 'ppo.lrr'; did you mean 'ppo.lr'?"),
    ('strategy = "grid"\n[params]\n"ppo.lr" = []\n', "params.ppo.lr: values is empty"),
    ('strategy = "grid"\n[params]\n"train.seed" = [1, 2]\n', "params.train.seed: the seed is not a parameter"),
    ('strategy = "grid"\n[params]\n"ppo.lr" = { type = "log-uniform", low = 1e-5, high = 1e-3 }\n',
     "grid needs listed values or an integer range, not a log-uniform range"),
    ('strategy = "one-at-a-time"\n[params]\n"ppo.gamma" = { low = 0.9, high = 0.99 }\n',
     "one-at-a-time needs listed values"),
    ('strategy = "one-at-a-time"\norder = ["ppo.lr", "ppo.gama"]\n[params]\n"ppo.lr" = [1e-4]\n"ppo.gamma" = [0.9]\n',
     "unknown name in order (not in [params]) 'ppo.gama'; did you mean 'ppo.gamma'?"),
    ('strategy = "bayes"\n[params]\n"ppo.lr" = [1e-4]\n', "unknown strategy 'bayes'"),
    ('strategy = "tpe"\n[params]\n"ppo.lr" = { type = "log-uniform", low = 1e-5, high = 1e-3 }\n',
     "tpe needs a number of trials"),
    ('strategy = "random"\ntrials = 3\n[params]\n"ppo.lr" = { low = 1e-3, high = 1e-4 }\n', "must be below high"),
    ('strategy = "random"\ntrials = 3\n[params]\n"ppo.lr" = { type = "log-uniform", low = 0.0, high = 1e-3 }\n',
     "needs low > 0"),
    ('strategy = "grid"\n[params]\n"ppo.num_epochs" = [1.5]\n', "expected an integer"),
    ('strategy = "grid"\n[params]\n"ppo.batch_size" = [100]\n', "must divide"),
    ('strategy = "one-at-a-time"\npruner = "median"\n[params]\n"ppo.lr" = [1e-4]\n', "use pruner = \"none\""),
    ('strategy = "grid"\n[objective]\nmetric = "test_retrun"\n[params]\n"ppo.lr" = [1e-4]\n',
     "unknown objective.metric 'test_retrun'"),
    ('strategy = "grid"\nseed = [1]\n[params]\n"ppo.lr" = [1e-4]\n', "unknown key in the sweep file 'seed'"),
    ('strategy = "grid"\n[params]\n', "[params] is missing or empty"),
    ('strategy = "random"\ntrials = 2\n[set]\n"env.num_levels" = 0\n[params]\n"ppo.lr" = [1e-4]\n',
     "[set] and the base config: env.num_levels = 0: procgen trains on every level seed"),
    ('strategy = "grid"\n[params]\n"env.num_levels" = [200, 0]\n"env.num_test_envs" = [0, 2]\n',
     "env.num_levels = 0, env.num_test_envs = 2: env.num_levels = 0: procgen"),
]


def test_a_grid_whose_every_combination_trains_is_accepted(tmp_path):
    """num_levels = 0 needs num_test_envs = 0: a grid that pairs them so, or [set] with a
    parameter that fixes it, is a valid sweep."""
    load_sweep(write(tmp_path, 'strategy = "grid"\n[params]\n"env.num_levels" = [0, 200]\n"env.num_test_envs" = [0]\n'))
    load_sweep(write(tmp_path, 'strategy = "grid"\n[set]\n"env.num_levels" = 0\n[params]\n"env.num_test_envs" = [0]\n'))


@pytest.mark.parametrize("body,message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_sweep_file_is_refused_before_anything_starts(tmp_path, capsys, body, message):
    f = write(tmp_path, body)
    d = tmp_path / "out"
    assert main(["sweep", "run", str(f), "--dir", str(d)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not d.exists()


def test_params_tables_and_shorthands_parse(tmp_path):
    f = write(tmp_path, """
        strategy = "random"
        trials = 4
        seeds = 2
        [params.ppo]
        lr = { type = "log-uniform", low = 1e-5, high = 1e-3 }
        num_epochs = { type = "int", low = 1, high = 4 }
        [params]
        "env.game" = ["starpilot", "coinrun"]
        """)
    spec = load_sweep(f)
    assert {n: p.type for n, p in spec.params.items()} == {
        "ppo.lr": "log-uniform", "ppo.num_epochs": "int", "env.game": "choice"}
    assert spec.seeds == [0, 1]
    assert spec.params["ppo.num_epochs"].grid_values() == [1, 2, 3, 4]


# -- acceptance 2: one-at-a-time on real tiny runs, best.toml -----------------------------------


@pytest.mark.slow
def test_one_at_a_time_picks_winners_and_writes_loadable_best(tmp_path, capsys):
    f = write(tmp_path, """
        strategy = "one-at-a-time"
        order = ["ppo.lr", "ppo.entropy_coef"]
        [params]
        "ppo.lr" = [1e-4, 3e-3]
        "ppo.entropy_coef" = [0.0, 0.05]
        [objective]
        metric = "test_reward_rate"
        last_fraction = 0.5
        [local]
        workers = 2
        """)
    d = tmp_path / "sw"
    assert main(["sweep", "run", str(f), "--dir", str(d)]) == 0
    spec, recs = load(d)
    done = by_state(recs, "COMPLETE")
    assert len(done) in (3, 4) and len(done) == len(recs)  # stage 2 reuses stage 1's winner if it reappears
    value = {(r.params["ppo.lr"], r.params["ppo.entropy_coef"]): r.value for r in done}
    start_ent = tiny_config().ppo.entropy_coef
    stage1 = {lr: value[(lr, start_ent)] for lr in (1e-4, 3e-3)}
    lr_best = max(stage1, key=lambda lr: (stage1[lr], -[1e-4, 3e-3].index(lr)))
    stage2 = {e: value[(lr_best, e)] for e in (0.0, 0.05)}
    ent_best = max(stage2, key=lambda e: (stage2[e], -[0.0, 0.05].index(e)))
    for lr, e in value:  # every stage-2 trial used the stage-1 winner
        assert e == start_ent or lr == lr_best

    out = tmp_path / "best.toml"
    assert main(["sweep", "best", str(d), "--out", str(out)]) == 0
    from rlsight.config import load as load_config

    cfg = load_config(out)
    assert (cfg.ppo.lr, cfg.ppo.entropy_coef) == (lr_best, ent_best)
    assert cfg.env.num_envs == tiny_config().env.num_envs  # the base config carried over
    assert main(["sweep", "status", str(d)]) == 0
    table = capsys.readouterr().out
    assert "stage ppo.lr: winner" in table and str(d / "trials" / "0000" / "seed0") in table
    assert main(["sweep", "plot", str(d), "--out", str(tmp_path / "sweep.png")]) == 0
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["train", "--config", str(out), "--run-dir", str(tmp_path / "again"), "--no-progress"]) == 0
    assert main(["sweep", "best", str(d), "--out", str(out)]) == 2  # no silent overwrite


# -- acceptance 3: crashes and interruptions ------------------------------------------------


@pytest.mark.slow  # a worker process per trial (2-8 trials)
def test_crashing_trial_is_recorded_as_failed_and_sweep_completes(tmp_path, fakes, capsys):
    f = write(tmp_path, fakes + """
        strategy = "grid"
        [params]
        "ppo.entropy_coef" = [0.0, 0.5, 0.01]
        [objective]
        metric = "test_return"
        """)
    d = tmp_path / "sw"
    recs = run_sweep(f, d)
    assert len(by_state(recs, "COMPLETE")) == 2
    [failed] = by_state(recs, "FAIL")
    assert failed.params["ppo.entropy_coef"] == 0.5
    assert "RuntimeError: synthetic crash" in failed.error
    assert "RuntimeError: synthetic crash" in Path(failed.log).read_text()  # the traceback is in its log
    assert main(["sweep", "status", str(d)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" in out and failed.log in out
    # running again keeps the failure recorded and runs nothing new
    assert len(run_sweep(f, d)) == 3


def _sweep_cmd(sweep_file: Path, sweep_dir: Path) -> list[str]:
    """``rlsight sweep run`` in a new process with this interpreter."""
    return [sys.executable, "-c", "import sys; from rlsight.cli.main import main; sys.exit(main(sys.argv[1:]))",
            "sweep", "run", str(sweep_file), "--dir", str(sweep_dir)]


def _trial_processes(sweep_dir: Path) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if "rlsight.sweep.worker" in cmd and str(sweep_dir) in cmd:
            pids.append(int(p.name))
    return pids


@pytest.mark.slow
def test_sigkilled_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    f = write(tmp_path, """
        strategy = "grid"
        [set]
        "train.save_step" = 256
        [params]
        "ppo.lr" = [1e-4, 3e-4, 1e-3]
        [objective]
        metric = "test_reward_rate"
        """)
    d = tmp_path / "sw"
    cmd = _sweep_cmd(f, d)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while True:  # kill once a trial is complete and another has a checkpoint
            assert proc.poll() is None and time.time() < deadline, "sweep ended before it could be killed"
            time.sleep(0.3)
            if not (d / "trials").exists():  # the study exists once the first trial starts
                continue
            try:
                recs = load(d)[1]
            except Exception:  # noqa: BLE001 - the sweep may still be creating its study
                continue
            running = [r for r in recs if r.state == "RUNNING" and r.run_dirs]
            if by_state(recs, "COMPLETE") and any(
                    list((d / r.run_dirs[0] / "checkpoints").glob("step_*")) for r in running):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for _ in range(50):  # the worker dies with the sweep
        if not _trial_processes(d):
            break
        time.sleep(0.1)
    assert not _trial_processes(d)
    before = load(d)[1]
    finished = {r.number: (d / r.run_dirs[0] / "metrics.csv").stat().st_mtime_ns for r in by_state(before, "COMPLETE")}
    killed = [r for r in before if r.state == "RUNNING"]
    assert finished and killed

    assert subprocess.run(cmd, capture_output=True).returncode == 0  # the same command again
    after = load(d)[1]
    done = by_state(after, "COMPLETE")
    assert sorted(r.params["ppo.lr"] for r in done) == [1e-4, 3e-4, 1e-3]  # each point once
    for number, mtime in finished.items():  # finished trials were not touched
        assert (d / after[number].run_dirs[0] / "metrics.csv").stat().st_mtime_ns == mtime
    for k in killed:  # the killed trial was continued in its own run directory
        assert after[k.number].interrupted
        [cont] = [r for r in after if r.retry_of == k.number]
        assert cont.state == "COMPLETE" and cont.run_dirs == k.run_dirs
        from rlsight.runs import RunDir

        steps = [r["step"] for r in RunDir.open(d / cont.run_dirs[0]).metrics()]
        assert steps == [256, 512, 768, 1024]


LONG_SWEEP = """
    strategy = "grid"
    [set]
    "train.total_steps" = 2560000
    "train.save_step" = 1280000
    [params]
    "ppo.lr" = [3e-4]
    [objective]
    metric = "test_reward_rate"
    """


def _stop_sweep(tmp_path: Path, ready, stop, preexec_fn=None) -> tuple[int, str, Path]:
    """Start a one-trial sweep far too long to finish, in its own process group; once
    ``ready(sweep_dir)``, ``stop(proc)``; returns (exit status, stderr, sweep dir)."""
    d = tmp_path / "sw"
    proc = subprocess.Popen(_sweep_cmd(write(tmp_path, LONG_SWEEP), d), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, process_group=0, preexec_fn=preexec_fn)
    deadline = time.time() + 240
    try:
        while not ready(d):
            assert proc.poll() is None and time.time() < deadline, "the sweep ended before it could be stopped"
            time.sleep(0.02)
        stop(proc)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err.decode(), d


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM to the driver alone", "Ctrl-C (SIGINT to its process group)"])
def test_a_stopped_sweep_checkpoints_its_running_trial(tmp_path, how):
    """Stopping the driver stops its workers with a checkpoint, whether the signal reaches the
    driver alone (``kill PID``, ``timeout``) or its whole process group (Ctrl-C): the workers
    get one SIGINT from the driver (two would make them stop without a checkpoint)."""
    from rlsight.runs import RunDir

    def training(d: Path) -> bool:  # a few metrics rows written
        m = d / "trials" / "0000" / "seed0" / "metrics.csv"
        return m.exists() and len(m.read_text().splitlines()) > 2

    def stop(proc) -> None:
        if how.startswith("SIGTERM"):
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)

    rc, err, d = _stop_sweep(tmp_path, training, stop)
    run = d / "trials" / "0000" / "seed0"
    assert rc == 130, err
    assert "interrupted" in err
    assert not _trial_processes(d)
    r = RunDir.open(run)
    assert r.info()["status"] == "interrupted"  # not "running": the worker stopped on its own
    last = int(r.metrics()[-1]["step"])
    assert [c.name for c in r.checkpoints()] == [f"step_{last:012d}"]  # written when it stopped, at its last update
    assert "SIGINT: finishing this update" in (run.parent / "trial.log").read_text()


@pytest.mark.slow
def test_a_background_sweep_stops_a_worker_that_has_not_begun_training(tmp_path):
    """A sweep started in the background by a script ignores SIGINT, and so would its workers:
    SIGTERM to it must still stop a worker that is starting (before training sets its own
    handler), not leave it to train the whole trial."""
    rc, err, d = _stop_sweep(tmp_path, lambda d: bool(_trial_processes(d)),  # the worker exists: stop it as it starts
                             lambda proc: proc.send_signal(signal.SIGTERM),
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert rc == 130, err
    assert not _trial_processes(d)


# -- acceptance 4: TPE with a pruner ------------------------------------------------------------


@pytest.mark.slow  # a worker process per trial (2-8 trials)
def test_tpe_with_median_pruner_stops_weak_trials_early(tmp_path, fakes):
    f = write(tmp_path, fakes + """
        strategy = "tpe"
        trials = 8
        sampler_seed = 1
        [set]
        "train.total_steps" = 2560
        [params]
        "ppo.lr" = { type = "log-uniform", low = 1e-8, high = 1e-2 }
        [objective]
        metric = "test_return"
        [pruner]
        kind = "median"
        startup_trials = 2
        """)
    d = tmp_path / "sw"
    recs = run_sweep(f, d)
    pruned, done = by_state(recs, "PRUNED"), by_state(recs, "COMPLETE")
    assert len(pruned) + len(done) == 8 and pruned
    from rlsight.runs import RunDir

    for r in pruned:
        assert r.last_step < 2560  # stopped before the end ...
        run = RunDir.open(d / r.run_dirs[0])
        assert run.info()["status"] == "interrupted" and len(run.metrics()) < 10  # ... and trained less
        assert r.params["ppo.lr"] < max(c.params["ppo.lr"] for c in done)  # it was a weak one
    for r in done:
        assert len(RunDir.open(d / r.run_dirs[0]).metrics()) == 10


@pytest.mark.slow  # a worker process per trial (2-8 trials)
def test_successive_halving_and_journal_storage(tmp_path, fakes):
    f = write(tmp_path, fakes + """
        strategy = "random"
        trials = 6
        storage = "journal"
        [set]
        "train.total_steps" = 2560
        [params]
        "ppo.lr" = { type = "log-uniform", low = 1e-8, high = 1e-2 }
        [pruner]
        kind = "successive-halving"
        min_steps = 512
        reduction_factor = 2
        [local]
        workers = 2
        """)
    d = tmp_path / "sw"
    recs = run_sweep(f, d)
    assert (d / "study.journal").is_file() and not (d / "study.db").exists()
    assert len([r for r in recs if r.state in ("COMPLETE", "PRUNED")]) == 6


@pytest.mark.slow  # a worker process per trial (2-8 trials)
def test_database_url_storage(tmp_path, fakes):
    db = tmp_path / "shared.db"
    f = write(tmp_path, fakes + f"""
        strategy = "grid"
        storage = "sqlite:///{db}"
        [params]
        "ppo.lr" = [1e-4, 1e-3]
        """)
    recs = run_sweep(f, tmp_path / "sw")
    assert db.is_file() and len(by_state(recs, "COMPLETE")) == 2
    assert len(load(tmp_path / "sw")[1]) == 2


def test_sweep_directory_refuses_a_different_sweep(tmp_path, fakes):
    f = write(tmp_path, fakes + 'strategy = "grid"\n[params]\n"ppo.lr" = [1e-4]\n')
    d = tmp_path / "sw"
    run_sweep(f, d)
    g = write(tmp_path, fakes + 'strategy = "grid"\n[params]\n"ppo.lr" = [1e-3]\n', name="other.toml")
    with pytest.raises(SweepError, match="holds a different sweep"):
        run_sweep(g, d)
    assert len(load(d)[1]) == 1


# -- launchers --------------------------------------------------------------------------------


def test_local_launcher_splits_threads_and_gpus(tmp_path, fakes):
    from rlsight.sweep.launchers import LocalLauncher

    f = write(tmp_path, fakes + '[local]\nworkers = 2\ngpus = [0, 1]\n[params]\n"ppo.lr" = [1e-4]\n',
              base={"train__torch_threads": 0})
    spec = load_sweep(f)
    la = LocalLauncher(spec, tmp_path / "sw")
    assert la.threads == max(1, (os.cpu_count() or 1) // 2)
    assert sorted(la.slots.get() for _ in range(2)) == ["0", "1"]
    spec.local.gpus = None
    spec.base.train.device = "cpu"
    la = LocalLauncher(spec, tmp_path / "sw")
    assert la.slots.get() is None  # a CPU sweep hides no GPUs and assigns none


@pytest.mark.slow  # a worker process
def test_local_worker_gets_its_share_of_the_threads(tmp_path, fakes):
    from rlsight.runs import RunDir
    from rlsight.sweep.launchers import LocalLauncher

    f = write(tmp_path, fakes + '[local]\nworkers = 2\ngpus = [0, 1]\n[params]\n"ppo.lr" = [1e-4]\n',
              base={"train__torch_threads": 0})
    threads = LocalLauncher(load_sweep(f), tmp_path / "sw").threads
    recs = run_sweep(f, tmp_path / "sw")  # the config's torch_threads = 0 becomes the worker's share
    assert RunDir.open(tmp_path / "sw" / recs[0].run_dirs[0]).config().train.torch_threads == threads


def test_slurm_launcher_without_sbatch_is_a_clear_error(tmp_path, monkeypatch, capsys, fakes):
    f = write(tmp_path, fakes + '[params]\n"ppo.lr" = [1e-4]\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["sweep", "run", str(f), "--dir", str(tmp_path / "sw"), "--launcher", "slurm"]) == 2
    assert "sbatch is not on PATH" in capsys.readouterr().err
    assert not (tmp_path / "sw").exists()


def test_long_categorical_values_do_not_overlap_on_the_plot(tmp_path):
    """Many long values (games) side by side are drawn slanted, so that each tick label can be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlsight.sweep.results import figure
    from rlsight.sweep.study import TrialRecord

    values = ["starpilot", "bossfight", "coinrun", "bigfish", "caveflyer", "climber", "dodgeball", "fruitbot"]
    spec = load_sweep(write(tmp_path, f"""
        strategy = "grid"
        [params]
        "env.game" = {values}
        """.replace("'", '"')))
    recs = [TrialRecord(i, "COMPLETE", float(i), {"env.game": v}, [], "", "", False, None, None)
            for i, v in enumerate(values)]
    fig = figure(spec, recs)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert len(boxes) == len(values)
    assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
