# Sourced by scripts/install.sh, quickstart.sh and test.sh (not run on its own):
# use the active virtual environment ($VIRTUAL_ENV) if there is one, otherwise
# create (once) and activate the project's own, .venv at the repository root.
# Nothing outside that environment is installed or changed, except that as root
# on Debian/Ubuntu, where `python3 -m venv` lacks ensurepip, Debian's python3-venv
# package is installed so that the environment can be created.
#   PYTHON=python3.12 scripts/install.sh   # the Python that creates .venv
#   RLSIGHT_VENV=/path/env scripts/install.sh  # another location for it

rlsight_venv_die() { echo "rlsight: $*" >&2; exit 1; }

rlsight_make_venv() {  # rlsight_make_venv PYTHON DIR: python -m venv, with pip
    local py="$1" dir="$2"
    if "$py" -m venv "$dir" 2>/dev/null; then
        return 0
    fi
    rm -rf "$dir"  # a half-made environment (no pip) is no use
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        local ver
        ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        echo "rlsight: '$py -m venv' needs Debian's venv package; installing python$ver-venv" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "python$ver-venv" >/dev/null \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        "$py" -m venv "$dir" && return 0
        rm -rf "$dir"
    fi
    rlsight_venv_die "could not create a virtual environment with '$py -m venv $dir': install your Python's venv module (Debian/Ubuntu: apt-get install python3-venv) or activate an environment first"
}

rlsight_use_venv() {  # activates the environment; sets RLSIGHT_PY to its python
    if [ -n "${VIRTUAL_ENV:-}" ]; then
        [ -x "$VIRTUAL_ENV/bin/python" ] || rlsight_venv_die "VIRTUAL_ENV=$VIRTUAL_ENV has no bin/python"
        RLSIGHT_PY="$VIRTUAL_ENV/bin/python"
        echo "rlsight: using the active virtual environment $VIRTUAL_ENV" >&2
    else
        local dir="${RLSIGHT_VENV:-.venv}" py="${PYTHON:-python3}"
        command -v "$py" >/dev/null || rlsight_venv_die "$py not found: install Python 3.11 or newer, or set PYTHON"
        "$py" -c '' >/dev/null 2>&1 \
            || rlsight_venv_die "$py is on PATH but does not run (a pyenv shim for a version not selected here?): set PYTHON to the interpreter's full path, e.g. ~/.pyenv/versions/3.12.1/bin/python"
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || rlsight_venv_die "$py is Python $("$py" -c 'import platform; print(platform.python_version())'); rlsight needs 3.11 or newer (set PYTHON=python3.11)"
        if [ ! -x "$dir/bin/python" ]; then
            echo "rlsight: creating the virtual environment $dir" >&2
            rlsight_make_venv "$py" "$dir"
        fi
        # shellcheck disable=SC1091
        source "$dir/bin/activate"
        RLSIGHT_PY="$VIRTUAL_ENV/bin/python"
    fi
    export RLSIGHT_PY
}
