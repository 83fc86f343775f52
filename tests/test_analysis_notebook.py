"""Acceptance: the example notebook runs from top to bottom (executed with nbclient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ORIGINAL_EXPERIMENTS

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        msg = f"{module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.slow  # a Jupyter kernel; imports and plays two original checkpoints when present
def test_quickstart_notebook_executes(monkeypatch):
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    _require("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("RLSIGHT_SHARED", str(ORIGINAL_EXPERIMENTS.parent.parent))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    if not ORIGINAL_EXPERIMENTS.is_dir():
        assert any("not found" in o.get("text", "") for o in outputs)
        return
    images = [c for c in nb.cells if c.cell_type == "code"
              and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert len(images) == 2  # the frame and the comparison plot
    assert "plot_runs" in images[-1].source
    text = "".join(o.get("text", "") for o in outputs)
    assert "steps played" in text
