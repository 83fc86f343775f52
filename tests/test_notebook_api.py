"""The lazy notebook API (``rlsight.train``, ``rlsight.evaluate``, ...): every name is the
documented callable, however often it is used and whatever was imported before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rlsight


def test_every_api_name_is_callable_and_stays_so():
    for name in rlsight._API:
        first = getattr(rlsight, name)
        assert callable(first) and not isinstance(first, type(rlsight)), name
        assert getattr(rlsight, name) is first, name  # a second look gives the same callable


def test_evaluate_is_the_function_after_its_module_was_imported():
    """A submodule named like an API function would replace it on the package once imported
    (``rlsight.evaluate`` became a module after its first call)."""
    code = ("import rlsight, rlsight.cli.evaluate, rlsight.evaluation\n"
            "f = rlsight.evaluate\n"
            "assert callable(f) and f is rlsight.evaluate and f.__module__ == 'rlsight.evaluation', f\n"
            "import importlib, pkgutil\n"
            "clash = [m.name for m in pkgutil.iter_modules(rlsight.__path__) if m.name in rlsight._API]\n"
            "assert not clash, clash\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scripts_benchmarks_and_examples_import_modules_that_exist():
    """A renamed module must not break the quickstart or a benchmark that imports it by name
    (scripts/quickstart.sh embeds Python)."""
    import importlib.util
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    missing = []
    for folder in ("scripts", "benchmarks", "examples"):
        for f in sorted((root / folder).rglob("*")):
            if f.suffix not in (".py", ".sh", ".ipynb") or not f.is_file():
                continue
            for name in set(re.findall(r"(?:from|import)\s+(rlsight(?:\.\w+)+)", f.read_text())):
                if importlib.util.find_spec(name) is None:
                    missing.append(f"{f.relative_to(root)}: {name}")
    assert not missing, missing


def test_train_takes_a_preset_name_and_refuses_other_things(tmp_path):
    import pytest

    from rlsight.errors import ConfigError

    with pytest.raises(ConfigError, match="config 'no-such-preset' not found"):
        rlsight.train("no-such-preset", tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match=r"train\(cfg=dict\): give a Config"):
        rlsight.train({"ppo": {}}, tmp_path / "b", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.procgen  # trains
def test_train_from_a_toml_file(tmp_path):
    from tests.conftest import tiny_config

    f = tmp_path / "tiny.toml"
    f.write_text(tiny_config().to_toml())
    run = rlsight.train(str(f), tmp_path / "r", progress=False)
    assert run.info()["status"] == "finished" and run.config() == tiny_config()
