"""Fault-injection points inside rlsight's writes, for the fault tests and the
kill campaign (tests/test_disk_full.py, tests/kill_campaign.py).

Inert unless the environment variable ``RLSIGHT_FAULTS`` is set, to a
comma-separated list of ``ACTION:POINT[@N]`` terms:

- ``kill:POINT@N``   SIGKILL this process at the N-th time it reaches POINT;
- ``enospc:POINT@N`` raise ``OSError(ENOSPC)`` there, from the N-th time on
  (the disk stays full); ``edquot:POINT@N`` the same with ``EDQUOT`` (quota used up);
- ``delay:SECONDS``  sleep that long at every point (widens the windows an
  outside ``kill`` can hit).

POINT is one of ``write`` (an atomic file write: data written, not yet renamed),
``dir`` (an atomic folder: filled, not yet renamed), ``checkpoint`` (inside a
checkpoint, between its weights and its state), ``metrics`` (half of a
metrics.csv line appended), ``report``, ``video``, or ``*`` (any). ``@N``
defaults to 1.
"""

from __future__ import annotations

import errno
import os
import signal
import time

ENV = "RLSIGHT_FAULTS"
_hits: dict[str, int] = {}
_spec_seen = ""


def active() -> bool:
    """Whether any fault is configured."""
    return bool(os.environ.get(ENV))


def point(name: str, path: object = "") -> None:
    """Reached a fault point; does nothing unless ``RLSIGHT_FAULTS`` asks for it."""
    global _spec_seen
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    if spec != _spec_seen:  # a new spec starts the counts again
        _hits.clear()
        _spec_seen = spec
    _hits[name] = _hits.get(name, 0) + 1
    _hits["*"] = _hits.get("*", 0) + 1
    for term in spec.split(","):
        action, _, target = term.strip().partition(":")
        if action == "delay":
            time.sleep(float(target))
            continue
        where, _, n = target.partition("@")
        if where not in (name, "*"):
            continue
        count, nth = _hits[where], int(n or 1)
        if action == "kill" and count == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        elif action in ("enospc", "edquot") and count >= nth:
            code = errno.ENOSPC if action == "enospc" else errno.EDQUOT
            raise OSError(code, os.strerror(code), str(path))
