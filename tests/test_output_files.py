"""Commands that write a file the user names refuse an existing one unless --overwrite, and
a folder, before any work: nothing on disk is lost (saliency and jobscript have their own
tests; these are saliency-check --json, compare --out / --generalisation-csv, sweep plot
and sweep best)."""

from __future__ import annotations

import pytest

from rlsight.cli.main import main
from tests.analysis_helpers import write_run
from tests.faith_helpers import model_run


def test_saliency_check_json_keeps_an_existing_file(tmp_path, capsys):
    run = model_run(tmp_path / "a")
    before = (run / "config.toml").read_bytes()
    assert main(["saliency-check", str(run), "--quick", "--json", str(run / "config.toml")]) == 2
    assert "--json " in (err := capsys.readouterr().err) and "exists; use --overwrite" in err
    assert (run / "config.toml").read_bytes() == before and not (run / "explain").exists()
    assert main(["saliency-check", str(run), "--quick", "--json", str(tmp_path)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err and not (run / "explain").exists()


@pytest.mark.parametrize("option", ["--out", "--generalisation-csv"])
def test_compare_keeps_existing_outputs(tmp_path, capsys, option):
    a = write_run(tmp_path / "runs" / "a")
    name = "keep.png" if option == "--out" else "keep.csv"
    keep = tmp_path / name
    keep.write_text("keep")
    assert main(["compare", str(a), option, str(keep), "--table", "none"]) == 2
    assert f"{option} {keep}: exists; use --overwrite to replace it" in capsys.readouterr().err
    assert keep.read_text() == "keep"
    assert main(["compare", str(a), option, str(keep), "--table", "none", "--overwrite"]) == 0
    assert keep.read_bytes() != b"keep"
    assert main(["compare", str(a), option, str(tmp_path), "--table", "none"]) == 2


def test_compare_dpi_must_be_positive(tmp_path, capsys):
    a = write_run(tmp_path / "runs" / "a")
    assert main(["compare", str(a), "--out", str(tmp_path / "x.png"), "--dpi", "0"]) == 2
    assert "--dpi 0: must be >= 1" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(("action", "name", "says"), [
    ("plot", "keep.png", "--out {}: exists; use --overwrite to replace it"),
    ("plot", "plot.txt", "--out {}: the file name must end in .png, .pdf, .svg"),
    ("best", "keep.toml", "--out {}: exists; use --overwrite to replace it"),
])
def test_sweep_outputs_are_checked_first(tmp_path, capsys, action, name, says):
    out = tmp_path / name
    if name.startswith("keep"):
        out.write_text("keep")
    assert main(["sweep", action, str(tmp_path / "no-sweep"), "--out", str(out)]) == 2
    assert says.format(out) in capsys.readouterr().err
    assert not name.startswith("keep") or out.read_text() == "keep"
