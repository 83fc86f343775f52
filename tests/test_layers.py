"""The package's import graph points one way: every module imports only from its
own area or from areas in lower layers (module-level and function-level imports
alike), and the benchmarks use only public API, as a user's script would."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "rlsight"

# Lowest first. An area is a top-level module or subpackage of rlsight. A module may
# import from its own area and from areas in lower layers; areas that share a layer
# do not import each other unless the pair is listed in SIDEWAYS.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "presets"),  # error types; the preset TOML files (data only)
    ("config",),  # typed configuration: no torch, no environments
    ("hardware", "shift"),  # device choice, bf16 facts; evaluation settings under distribution shift
    ("envs", "models"),  # environment families; networks, action sampling, checkpoint reading
    ("ppo",),  # PPO maths over tensors
    ("runs",),  # the run directory (reads models' state dicts)
    ("training", "evaluation"),  # writers and readers of runs; neither imports the other
    ("explain",),  # saliency methods, faithfulness
    ("analysis",),  # many runs -> tables and plots
    ("report",),  # the HTML report over analysis's public API
    ("sweep",),  # searches that train and read runs
    ("bench",),  # what benchmark scripts use
    ("cli",),  # argument parsing only
]
SIDEWAYS: set[tuple[str, str]] = set()  # (importer, imported) pairs allowed within a layer; none today
# Areas whose internals other areas must not import: only their package's public names.
PUBLIC_ONLY = {"analysis"}
ROOT = "rlsight"  # the package itself: __version__ and the lazy notebook API (imports nothing eagerly)

LAYER_OF = {area: i for i, layer in enumerate(LAYERS) for area in layer}


def area_of(module: str) -> str:
    """'rlsight.training.rollout' -> 'training'; 'rlsight' -> 'rlsight'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every rlsight import in the file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != ROOT:
                continue
            if mod == ROOT:  # from rlsight import config: an edge to that area
                out += [(node.lineno, f"{ROOT}.{a.name}" if a.name in LAYER_OF else ROOT) for a in node.names]
            else:
                out.append((node.lineno, mod))
    return out


def violations(files: list[Path]) -> list[str]:
    bad = []
    for f in files:
        src = area_of(module_name(f))
        if src == ROOT:
            continue
        assert src in LAYER_OF, f"{f}: area {src!r} is in no layer; add it to LAYERS"
        for line, mod in imported_modules(f):
            dst = area_of(mod)
            if dst in (src, ROOT):
                continue
            where = f"{f.relative_to(REPO)}:{line} imports {mod}"
            if dst not in LAYER_OF:
                bad.append(f"{where}: area {dst!r} is in no layer")
            elif LAYER_OF[dst] > LAYER_OF[src]:
                bad.append(f"{where}: upward ({src} is below {dst})")
            elif LAYER_OF[dst] == LAYER_OF[src] and (src, dst) not in SIDEWAYS:
                bad.append(f"{where}: sideways ({src} and {dst} share a layer)")
            elif dst in PUBLIC_ONLY and mod != f"{ROOT}.{dst}":
                bad.append(f"{where}: internals of {dst}; import from {ROOT}.{dst}")
    return bad


def test_every_import_points_down():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    assert violations(files) == []


def test_the_check_finds_upward_sideways_and_internal_edges(tmp_path, monkeypatch):
    """Files that break each rule are caught, with the line (module- and function-level)."""
    fake = tmp_path / "rlsight"
    (fake / "ppo").mkdir(parents=True)
    (fake / "envs").mkdir()
    (fake / "report").mkdir()
    (fake / "ppo" / "x.py").write_text("def f():\n    from rlsight.training import train\n")
    (fake / "envs" / "y.py").write_text("from rlsight.models import build_model\n")
    (fake / "report" / "z.py").write_text("from rlsight.analysis.curves import Panel\nfrom rlsight import config\n")
    monkeypatch.setattr("tests.test_layers.REPO", tmp_path)
    found = violations(sorted(fake.rglob("*.py")))
    assert len(found) == 3
    assert "ppo/x.py:2 imports rlsight.training: upward" in found[1]
    assert "envs/y.py:1 imports rlsight.models: sideways" in found[0]
    assert "report/z.py:1 imports rlsight.analysis.curves: internals of analysis" in found[2]


def test_benchmarks_use_public_api_only():
    """A benchmark imports rlsight, a top-level module or a subpackage's public names, and
    never edits sys.path."""
    public = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    public |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    scripts = sorted((REPO / "benchmarks").glob("*.py"))
    assert scripts
    bad = []
    for f in scripts:
        if "sys.path" in f.read_text():
            bad.append(f"{f.name}: edits sys.path")
        for line, mod in imported_modules(f):
            parts = mod.split(".")
            if len(parts) > 2 or (len(parts) == 2 and parts[1] not in public):
                bad.append(f"{f.name}:{line} imports {mod}, not public API")
    assert bad == []
