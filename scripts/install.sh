#!/usr/bin/env bash
# Install rlsight (editable) into the project's virtual environment .venv, created
# here if needed, or into the active virtual environment if one is active.
# Nothing outside that environment changes (see scripts/venv.sh).
#   scripts/install.sh          the package with the Procgen games (the procgen extra)
#   scripts/install.sh test     the same and what the tests need
# (`pip install -e .` alone leaves out procgen, which pins numpy<2: see docs/environments.md)
# Then: source .venv/bin/activate && rlsight --help
# torch is installed first, pinned to the CPU build 2.13.0, when the environment has no
# torch, so that pip does not pull a multi-GB CUDA build on a CPU machine. For a GPU,
# create and activate an environment, install the CUDA build of torch into it, then run
# this script: it leaves an installed torch alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
rlsight_use_venv
# Already installed from this checkout with this pyproject.toml (a stamp in the environment,
# written after a successful install): nothing for pip to do, so skip it (scripts/test.sh
# calls this script on every run). The stamp names the checkout, the extras and a checksum
# of pyproject.toml; any change, or rlsight gone from the environment, installs again.
STAMP="$VIRTUAL_ENV/.rlsight-install"
extras=$([ "${1:-}" = "test" ] && echo "procgen,test" || echo "procgen")
sum="$(cksum < pyproject.toml)"
if [ -f "$STAMP" ] && compgen -G "$VIRTUAL_ENV/lib/python*/site-packages/rlsight-*.dist-info" >/dev/null; then
  have="$(cat "$STAMP")"
  if [ "$have" = "$(pwd -P) $extras $sum" ] || [ "$have" = "$(pwd -P) procgen,test $sum" ]; then  # test includes procgen
    echo "rlsight: already installed into $VIRTUAL_ENV, pyproject.toml unchanged (remove $STAMP to reinstall)" >&2
    exit 0
  fi
fi
rm -f "$STAMP"
if ! "$RLSIGHT_PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
  echo "rlsight: installing torch==2.13.0 into $VIRTUAL_ENV" >&2
  "$RLSIGHT_PY" -m pip install -q "torch==2.13.0"
fi
if [ "${1:-}" = "test" ]; then
  "$RLSIGHT_PY" -m pip install -q -e ".[procgen,test]"
else
  "$RLSIGHT_PY" -m pip install -q -e ".[procgen]"
fi
"$RLSIGHT_PY" -m pip check >&2
echo "$(pwd -P) $extras $sum" > "$STAMP"
echo "rlsight: installed into $VIRTUAL_ENV; to use it: source $VIRTUAL_ENV/bin/activate" >&2
