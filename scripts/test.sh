#!/usr/bin/env bash
# Install rlsight with its test dependencies into .venv (or the active virtual
# environment) and run the whole test suite with that environment's Python.
# As root on Debian it also installs and starts what the system tests use:
# Chromium (report in a real browser) and a single-node SLURM cluster (sweeps);
# these are Debian packages and system services, outside any Python environment.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow and not system".
# A -m expression with "not system" leaves the system packages and services alone; one
# with "not slow" (the fast tier) runs on RLSIGHT_TEST_WORKERS processes (pytest-xdist,
# default 2; 1 for one process), each with torch on one thread. The slow tests' trainings
# and timed kills run in one process, as the whole suite does. -n of your own wins.
set -euo pipefail
cd "$(dirname "$0")/.."
marks="" prev="" workers=()
for a in "$@"; do  # the -m expression, if any
  [ "$prev" = "-m" ] && marks="$a"
  case "$a" in -m?*) marks="${a#-m}" ;; -n|-n?*|--numprocesses*|-pno:xdist|no:xdist) workers=(none) ;; esac
  prev="$a"
done
[[ "${RLSIGHT_TEST_WORKERS:-2}" =~ ^[0-9]+$ ]] || { echo "rlsight: RLSIGHT_TEST_WORKERS=$RLSIGHT_TEST_WORKERS: must be a number of processes (1: no workers)" >&2; exit 2; }
APT_PACKAGES="chromium slurm-wlm munge"
if [[ "$marks" != *"not system"* ]] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
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
scripts/install.sh test  # skips pip when nothing it installs from has changed
"$RLSIGHT_PY" -m mypy  # type check rlsight ([tool.mypy] in pyproject.toml; incremental, .mypy_cache)
if [ "${workers[*]}" = none ] || [[ "$marks" != *"not slow"* ]] || [ "${RLSIGHT_TEST_WORKERS:-2}" -le 1 ]; then
  workers=()
else
  workers=(-n "${RLSIGHT_TEST_WORKERS:-2}" --dist worksteal)
  export OMP_NUM_THREADS=1
fi
# Python's bytecode cache on (some environments turn it off): without it every pytest
# process compiles the package and rewrites the tests' asserts again, seconds each run.
unset PYTHONDONTWRITEBYTECODE
"$RLSIGHT_PY" -m pytest "${workers[@]}" "$@"
