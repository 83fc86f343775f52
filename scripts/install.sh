#!/usr/bin/env bash
# Install rlsight into the current Python environment.
#   scripts/install.sh          the package
#   scripts/install.sh test     the package and what the tests need
# torch is installed first, pinned to the CPU build 2.13.0 where no torch is present,
# so that pip does not pull a multi-GB CUDA build on a CPU machine. On a GPU machine,
# install the CUDA build of torch first; this script then leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
if [ "${1:-}" = "test" ]; then
  "$PY" -m pip install -q -e ".[test]"
else
  "$PY" -m pip install -q -e .
fi
