"""The lazy notebook API (``rlsight.train``, ``rlsight.evaluate``, ...): every name is the
documented callable, however often it is used and whatever was imported before."""

from __future__ import annotations

import subprocess
import sys

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
