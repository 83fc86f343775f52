#!/usr/bin/env bash
# The numpy-2 check: rlsight installed WITHOUT its procgen extra, with numpy 2 and
# pandas 2.x (the main suite has pandas 3), on Python 3.12, into a virtual environment of its own (.venv-np2, or RLSIGHT_NP2_VENV),
# runs the fast tests that do not need Procgen (tests marked `procgen` skip there,
# saying why). torch 2.13.0 is installed first: on 3.12 pip takes PyPI's build (a CUDA
# build of several GB that runs on the CPU); on 3.11 the CPU build where one is at hand.
# Extra arguments go to pytest. .ci/run calls this after the main suite.
# The interpreter: python3.12 on PATH, else pyenv's newest 3.12 (scripts/find-python.sh);
# no 3.12 is an error, not a fall-back to another version.
#   PYTHON=python3.13 scripts/test-numpy2.sh   # another interpreter (3.11 or newer)
# An existing .venv-np2 made by another Python version is removed and made again.
set -euo pipefail
cd "$(dirname "$0")/.."
unset VIRTUAL_ENV
start=$SECONDS
die() { echo "numpy2 check: $*" >&2; exit 1; }
source scripts/find-python.sh
if [ -n "${PYTHON:-}" ]; then
  py="$(command -v "$PYTHON" 2>/dev/null)" || die "PYTHON=$PYTHON not found: give a Python 3.11 or newer, or unset PYTHON to use 3.12"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
    || die "PYTHON=$PYTHON does not run as Python 3.11 or newer: give another, or unset PYTHON to use 3.12"
  py="$("$py" -c 'import sys; print(sys.executable)')"
else
  py="$(rlsight_find_python 3.12)" \
    || die "no Python 3.12 found (python3.12 on PATH, ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12.*): install one (pyenv install 3.12) or set PYTHON=/path/to/python3.12"
fi
pyver="$("$py" -c 'import platform; print(platform.python_version())')"
venv="${RLSIGHT_NP2_VENV:-.venv-np2}"
if [ -x "$venv/bin/python" ] \
  && [ "$("$venv/bin/python" -c 'import platform; print(platform.python_version())' 2>/dev/null)" != "$pyver" ]; then
  echo "numpy2 check: $venv was made by another Python; making it again with $pyver" >&2
  rm -rf "$venv"
fi
echo "numpy2 check: Python $pyver ($py), environment $venv" >&2
source scripts/venv.sh
PYTHON="$py" RLSIGHT_VENV="$venv" rlsight_use_venv
if ! "$RLSIGHT_PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
  "$RLSIGHT_PY" -m pip install -q --no-compile "torch==2.13.0"
fi
# pandas 2.x: the oldest major rlsight allows (the main suite gets the newest)
"$RLSIGHT_PY" -m pip install -q --no-compile -e ".[test]" "numpy>=2" "pandas>=2.2,<3"
"$RLSIGHT_PY" -m pip check >&2
"$RLSIGHT_PY" - <<'PY'
import importlib.util, platform, sys
import numpy, pandas, torch
if int(numpy.__version__.split(".")[0]) < 2:
    sys.exit(f"numpy2 check: numpy {numpy.__version__} installed, expected 2 or newer")
if int(pandas.__version__.split(".")[0]) != 2:
    sys.exit(f"numpy2 check: pandas {pandas.__version__} installed, expected 2.x")
if importlib.util.find_spec("procgen") is not None:
    sys.exit("numpy2 check: procgen is installed in this environment; this check runs without it")
build = f"CUDA {torch.version.cuda} build, CUDA available: {torch.cuda.is_available()}" if torch.version.cuda else "CPU build"
print(f"numpy2 check: Python {platform.python_version()}, numpy {numpy.__version__}, pandas {pandas.__version__}, "
      f"torch {torch.__version__} ({build}), no procgen", file=sys.stderr)
PY
installed=$SECONDS
rc=0
"$RLSIGHT_PY" -m pytest -m "not slow and not system" "$@" || rc=$?
echo "numpy2 check: Python $pyver: install $((installed - start)) s, tests $((SECONDS - installed)) s" >&2
exit "$rc"
