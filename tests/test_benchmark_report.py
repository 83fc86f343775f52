"""rlsight.bench.write_section and step_breakdown.py: a GPU measurement gets its own
BENCHMARKS.md section and leaves the CPU one as it was; the breakdown writes one
row per variant."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlsight.bench import write_section
from tests.conftest import REPO


def test_gpu_results_get_their_own_section_and_keep_the_cpu_one(tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    write_section(md, "train_sps", "Training throughput", "cpu figures 1")
    write_section(md, "train_sps", "Training throughput", "gpu figures 1", device="cuda")
    write_section(md, "train_sps", "Training throughput", "gpu figures 2", device="cuda:0")
    text = md.read_text()
    assert "cpu figures 1" in text and "gpu figures 2" in text and "gpu figures 1" not in text
    assert "## Training throughput, on a GPU" in text
    write_section(md, "train_sps", "Training throughput", "cpu figures 2")
    text = md.read_text()
    assert "cpu figures 1" not in text and "cpu figures 2" in text and "gpu figures 2" in text
    assert text.count("<!-- train_sps:start -->") == 1 and text.count("<!-- train_sps-gpu:start -->") == 1


def test_another_machine_gets_its_own_section(tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    write_section(md, "train_sps", "Training throughput", "xeon figures")
    write_section(md, "train_sps", "Training throughput", "epyc figures 1", machine="AMD EPYC, 2 cores")
    write_section(md, "train_sps", "Training throughput", "epyc figures 2", machine="AMD EPYC, 2 cores")
    text = md.read_text()
    assert "xeon figures" in text and "epyc figures 2" in text and "epyc figures 1" not in text
    assert "<!-- train_sps-amd-epyc-2-cores:start -->" in text
    assert "## Training throughput, on AMD EPYC, 2 cores" in text
    write_section(md, "layout", "Memory layout", "layout figures")
    write_section(md, "layout", "Memory layout", "layout figures on epyc", machine="AMD EPYC, 2 cores")
    text = md.read_text()
    # each new section sits after the last one of the same measurement
    assert text.index("epyc figures 2") < text.index("layout figures") < text.index("layout figures on epyc")
    with pytest.raises(ValueError, match="machine label '--'"):
        write_section(md, "train_sps", "Training throughput", "x", machine="--")
    assert md.read_text() == text


@pytest.mark.slow
def test_step_breakdown_writes_one_row_per_variant(tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "step_breakdown.py"), "--set", "env.num_envs=4",
         "env.num_test_envs=2", "ppo.batch_size=32", "--num-steps", "8", "--seconds", "0.05",
         "--variants", "eager,bf16", "--write", str(md)],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    text = md.read_text()
    assert "<!-- step_breakdown:start -->" in text
    rows = [line for line in text.splitlines() if line.startswith("| eager |") or line.startswith("| bf16 |")]
    assert len(rows) == 2
    assert "4 training + 2 held-out environments, 8 steps per rollout (32 steps per update)" in text
    # every figure in a row is a positive number
    for row in rows:
        cells = [c.strip().replace(",", "") for c in row.strip("|").split("|")[1:]]
        assert all(float(c) > 0 for c in cells), row
