"""A run killed with SIGKILL and resumed matches an uninterrupted run."""

from __future__ import annotations

import pytest

from rlsight.training import train
from tests.conftest import tiny_config
from tests.resume_helpers import sigkill_then_resume


def _cfg():
    return tiny_config(train__total_steps=256 * 12, train__save_step=256 * 3, train__keep_checkpoints=0)


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    cfg = _cfg()
    ref = train(cfg, tmp_path / "ref", progress=False).metrics()

    sigkill_then_resume(cfg, ref, tmp_path, min_rows=5)
