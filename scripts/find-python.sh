# Sourced by scripts/test-numpy2.sh and .ci/run (not run on its own).
# rlsight_find_python 3.12: print the path of a Python 3.12 that runs, looking for
# python3.12 on PATH, then in pyenv's versions ($PYENV_ROOT or ~/.pyenv), newest first.
# A pyenv shim that is on PATH but not enabled for this directory does not run, and is
# passed over. Prints nothing and returns 1 if there is none.
rlsight_find_python() {
    local want="$1" c found
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    local candidates=()
    found="$(command -v "python$want" 2>/dev/null)" && candidates+=("$found")
    while IFS= read -r c; do
        [ -n "$c" ] && candidates+=("$c")
    done < <(ls -d "$root/versions/$want".*/bin/python 2>/dev/null | sort -rV)
    for c in ${candidates[@]+"${candidates[@]}"}; do
        if "$c" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$want')" >/dev/null 2>&1; then
            # the interpreter itself, not a shim that might resolve differently later
            "$c" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}
