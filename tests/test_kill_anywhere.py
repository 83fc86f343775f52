"""30 SIGKILLs at random moments, inside writes included, and 10 SIGTERMs (some sent
twice); every resumed run ends bit for bit like the uninterrupted one
(tests/kill_campaign.py runs more)."""

from __future__ import annotations

import pytest

from tests.kill_campaign import campaign

pytestmark = pytest.mark.slow


def test_thirty_kills_anywhere_then_resume_match_the_uninterrupted_run(tmp_path):
    res = campaign(30, tmp_path, seed=0, terms=10)
    print(res.line())
    assert res.kills == 30 and res.terms == 10
    assert res.by_term["stopped with a checkpoint"] >= 1
    assert sum(n for k, n in res.by_kind.items() if k.startswith("inside")) >= 10  # inside writes, not only between
    assert res.runs >= 1
