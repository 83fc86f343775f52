"""The features example notebook runs from top to bottom (nbclient) on two tiny runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsight.explain.features import load_features
from tests.faith_helpers import model_run
from tests.test_analysis_notebook import _require

# A Jupyter kernel, two tiny trainings and a state dataset recorded by playing Procgen:
# seconds of work, like the analysis notebook's test, so slow.
pytestmark = [pytest.mark.procgen, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "features.ipynb"


def test_features_notebook_executes_on_tiny_runs(tmp_path, monkeypatch):
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    _require("ipykernel")
    a, b = model_run(tmp_path / "a", seed=0), model_run(tmp_path / "b", seed=1)
    for k, v in {"RLSIGHT_FEATURES_RUN_A": a, "RLSIGHT_FEATURES_RUN_B": b, "RLSIGHT_FEATURES_STATES": "2x8",
                 "RLSIGHT_FEATURES_EPISODES": "4", "RLSIGHT_FEATURES_K": "2", "OMP_NUM_THREADS": "1"}.items():
        monkeypatch.setenv(k, str(v))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "value_share" in html and "null_threshold" in html and "ci_low" in html  # the three tables
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # the top examples
    assert load_features(a).k == 2 and (a / "explain" / "features-compare" / "b.json").is_file()
    assert (a / "explain" / "ablations" / "feature-0.json").is_file()
