#!/usr/bin/env bash
# Install rlsight with its test dependencies into .venv (or the active virtual
# environment) and run the whole test suite with that environment's Python.
# As root on Debian it also installs and starts what the system tests use:
# Chromium (report in a real browser) and a single-node SLURM cluster (sweeps);
# these are Debian packages and system services, outside any Python environment.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow and not system".
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES="chromium slurm-wlm munge"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  scripts/slurm-up.sh
fi
source scripts/venv.sh
rlsight_use_venv
scripts/install.sh test
"$RLSIGHT_PY" -m mypy  # type check rlsight ([tool.mypy] in pyproject.toml)
"$RLSIGHT_PY" -m pytest "$@"
