"""Atari training SPS: rlsight's fast mode against a CleanRL-style mode of the same maths
(one forward/backward over each whole minibatch and one inference pass over all
environments, as CleanRL's ppo_atari.py runs), side by side in one run.

    python benchmarks/atari_sps.py                      # atari-cleanrl (Pong, Nature-DQN), fast and cleanrl
    python benchmarks/atari_sps.py --num-steps 64 --updates 2 --repeats 1   # a short run

This is benchmarks/train_sps.py with an Atari preset; every option of that script works
here (``--configs``, ``--modes``, ``--set``, ...). Needs ale-py (pip install 'rlsight[atari]').
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_sps  # noqa: E402

DEFAULTS = ["--configs", "atari-cleanrl@nature", "--modes", "fast,cleanrl"]

if __name__ == "__main__":
    given = {a.split("=")[0] for a in sys.argv[1:] if a.startswith("--")}
    extra = [x for i in range(0, len(DEFAULTS), 2) if DEFAULTS[i] not in given for x in DEFAULTS[i:i + 2]]
    if "--child" not in given:
        sys.argv[1:1] = extra
    train_sps.main()
