"""One place for each piece written once: drawing actions from a policy, and
renaming temporary files into place. A grep of the package finds each in one
module only."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

PATTERNS = {
    # categorical sampling of actions, and the distribution it draws from
    "rlsight/models/sampling.py": re.compile(r"Categorical\(|\bmultinomial\(|\.sample\(|gumbel|exponential_\("),
    # temporary files and folders renamed into place
    "rlsight/runs/atomic.py": re.compile(r"os\.replace\(|os\.rename\(|\.rename\(|mkstemp\(|mkdtemp\("),
}


def modules_matching(pattern: re.Pattern, root: Path) -> set[str]:
    """Package modules whose code (comments dropped) matches ``pattern``."""
    hits = set()
    for f in root.rglob("*.py"):
        code = "\n".join(line.split("#", 1)[0] for line in f.read_text().splitlines())
        if pattern.search(code):
            hits.add(str(f.relative_to(root.parent)))
    return hits


def test_each_piece_lives_in_one_module():
    for home, pattern in PATTERNS.items():
        assert modules_matching(pattern, REPO / "rlsight") == {home}, pattern.pattern


def test_the_grep_finds_a_copy(tmp_path):
    pkg = tmp_path / "rlsight"
    pkg.mkdir()
    (pkg / "a.py").write_text("import torch\nx = torch.distributions.Categorical(logits=l).sample()\n")
    (pkg / "b.py").write_text("# a comment: os.replace(tmp, path)\nPath(tmp).rename(out)\n")
    (pkg / "c.py").write_text("y = 1  # .sample( in a comment only\n")
    assert modules_matching(PATTERNS["rlsight/models/sampling.py"], pkg) == {"rlsight/a.py"}
    assert modules_matching(PATTERNS["rlsight/runs/atomic.py"], pkg) == {"rlsight/b.py"}
