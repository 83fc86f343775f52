"""The SLURM launcher's wait: a job that squeue misses for a moment while SLURM
requeues it does not end its trial; one that scontrol confirms ended does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsight.sweep import launchers
from rlsight.sweep.launchers import SlurmLauncher


@pytest.fixture
def launcher(monkeypatch):
    ln = SlurmLauncher.__new__(SlurmLauncher)  # no sbatch needed to test the wait
    ln.poll_s, ln.sweep_dir, ln.say = 0.0, Path("."), print
    return ln


def _script(monkeypatch, squeue: list[set[str] | None], scontrol: dict[str, list[str | None]]) -> list[str]:
    """squeue answers in turn (the last repeats); scontrol's states per job in turn."""
    calls: list[str] = []

    def fake_squeue():
        calls.append("squeue")
        return squeue.pop(0) if len(squeue) > 1 else squeue[0]

    def fake_state(job):
        calls.append(f"scontrol {job}")
        seq = scontrol[job]
        return seq.pop(0) if len(seq) > 1 else seq[0]

    monkeypatch.setattr(launchers, "_squeue_ids", fake_squeue)
    monkeypatch.setattr(launchers, "_slurm_state", fake_state)
    return calls


def test_job_missing_from_squeue_while_requeued_is_still_waited_for(launcher, monkeypatch):
    # squeue misses job 7 twice (mid-requeue), scontrol says it is on its way back; then it runs and ends
    squeue = [{"7"}, set(), set(), {"7"}, {"7"}, set(), set()]
    _script(monkeypatch, squeue, {"7": ["REQUEUED", "COMPLETED"]})
    reported: list[tuple[int, int]] = []
    launcher.wait_jobs({0: "7"}, lambda n: reported.append((n, len(squeue))))
    assert reported == [(0, 1)]  # reported only after the last disappearance, not the first


def test_failed_squeue_and_forgotten_jobs(launcher, monkeypatch):
    _script(monkeypatch, [None, {"8"}, set()], {"8": [None], "9": ["PENDING", "CANCELLED"]})
    reported: list[int] = []
    launcher.wait_jobs({1: "8", 2: "9"}, reported.append)
    assert sorted(reported) == [1, 2]  # None from scontrol: slurmctld forgot the job, so it ended


def test_one_poll_without_the_job_is_not_enough(launcher, monkeypatch):
    calls = _script(monkeypatch, [set()], {"5": ["COMPLETED"]})
    reported: list[int] = []
    launcher.wait_jobs({3: "5"}, reported.append)
    assert reported == [3]
    assert calls.count("squeue") == 2  # ended only at the second poll that missed it
