"""benchmarks/bf16_agreement.py: bf16 forward passes move the gradient by a small,
non-zero amount, measured against float32 and written as one row per variant."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bf16_agreement  # noqa: E402


def test_bf16_gradient_differs_a_little_from_float32(tiny_run, tmp_path, monkeypatch):
    md = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(sys, "argv", ["bf16_agreement.py", str(tiny_run), "--minibatches", "2", "--write", str(md)])
    bf16_agreement.main()
    text = md.read_text()
    assert "<!-- bf16-agreement:start -->" in text and "2 minibatches of 64" in text
    rows = [line for line in text.splitlines() if line.startswith(f"| {tiny_run.name} (nature, 1,024) |")]
    assert [r.split("|")[2].strip() for r in rows] == list(bf16_agreement.VARIANTS)
    for row in rows:
        cos, err, dlogp, dvalue, noise = (c.strip() for c in row.strip("|").split("|")[2:])
        # bf16 really ran (a float32 pass would give exactly 0) and stayed close
        assert 0.99 < float(cos) <= 1.0
        assert 0 < float(err.rstrip("%")) < 5
        assert float(dlogp) > 0 and float(dvalue) > 0
        assert float(noise.rstrip("%")) > float(err.rstrip("%"))
