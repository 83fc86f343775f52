#!/usr/bin/env bash
# The numpy-2 check: rlsight installed WITHOUT its procgen extra, with numpy 2, into a
# virtual environment of its own (.venv-np2, or RLSIGHT_NP2_VENV), runs the fast tests
# that do not need Procgen (tests marked `procgen` skip there, saying why). torch is
# installed first (2.13.0, the CPU build), as scripts/install.sh does.
# Extra arguments go to pytest. .ci/run calls this after the main suite.
#   PYTHON=python3.12 scripts/test-numpy2.sh   # another interpreter (torch 2.13.0 must exist for it)
set -euo pipefail
cd "$(dirname "$0")/.."
unset VIRTUAL_ENV
start=$SECONDS
source scripts/venv.sh
RLSIGHT_VENV="${RLSIGHT_NP2_VENV:-.venv-np2}" rlsight_use_venv
if ! "$RLSIGHT_PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
  "$RLSIGHT_PY" -m pip install -q --no-compile "torch==2.13.0"
fi
"$RLSIGHT_PY" -m pip install -q --no-compile -e ".[test]" "numpy>=2"
"$RLSIGHT_PY" -m pip check >&2
"$RLSIGHT_PY" - <<'PY'
import importlib.util, platform, sys
import numpy
if int(numpy.__version__.split(".")[0]) < 2:
    sys.exit(f"numpy2 check: numpy {numpy.__version__} installed, expected 2 or newer")
if importlib.util.find_spec("procgen") is not None:
    sys.exit("numpy2 check: procgen is installed in this environment; this check runs without it")
print(f"numpy2 check: Python {platform.python_version()}, numpy {numpy.__version__}, no procgen", file=sys.stderr)
PY
installed=$SECONDS
rc=0
"$RLSIGHT_PY" -m pytest -m "not slow and not system" "$@" || rc=$?
echo "numpy2 check: install $((installed - start)) s, tests $((SECONDS - installed)) s" >&2
exit "$rc"
