#!/usr/bin/env bash
# Create .venv with Python >= 3.12 and install bnngallery (editable) with its test extras.
# A no-op when .venv already holds an install of the current pyproject.toml.
# LOCKED=1 installs the exact versions of requirements-lock.txt (the environment the README's
# figures came from) instead of the newest versions pyproject.toml's ranges allow. A locked
# .venv stays locked on later runs (make test, make demo); remove .venv to leave the lock.
# Interpreter search order: $PYTHON, python3.13 / python3.12 on PATH, then pyenv's versions.
set -euo pipefail
cd "$(dirname "$0")/.."

ok_python() {  # prints the interpreter path if it runs and is >= 3.12
  local py=$1
  command -v "$py" >/dev/null 2>&1 || [ -x "$py" ] || return 1
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1 || return 1
  echo "$py"
}

find_python() {
  if [ -n "${PYTHON:-}" ]; then
    ok_python "$PYTHON" && return 0
    echo "setup: \$PYTHON=$PYTHON is not a working Python >= 3.12" >&2
    return 1
  fi
  for py in python3.13 python3.12; do ok_python "$py" && return 0; done
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  for py in $(ls -d "$root"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -rV); do
    ok_python "$py" && return 0
  done
  return 1
}

stamp=.venv/.installed
if [ -z "${LOCKED:-}" ] && [ -f "$stamp" ] && grep -q '^locked ' "$stamp"; then LOCKED=1; fi
want=${LOCKED:+locked }$(cat pyproject.toml ${LOCKED:+requirements-lock.txt} | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  py=$(find_python) || {
    echo "setup: no Python >= 3.12 found (PyMC 6 needs it). Tried \$PYTHON, python3.13, python3.12 on PATH" >&2
    echo "       and ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12*/bin/python. Install one (e.g. 'pyenv install 3.12')" >&2
    echo "       or point PYTHON at it: make setup PYTHON=/path/to/python3.12" >&2
    exit 1
  }
  echo "setup: creating .venv with $py ($("$py" --version 2>&1))"
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "${LOCKED:-}" ]; then
  .venv/bin/python -m pip install --quiet -r requirements-lock.txt
  .venv/bin/python -m pip install --quiet --no-deps -e ".[test]"
else
  .venv/bin/python -m pip install --quiet -e ".[test]"
fi
echo "$want" > "$stamp"
echo "setup: done (.venv ready)"
