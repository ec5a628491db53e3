#!/usr/bin/env bash
# Run the test suite (installs the pinned dependencies into .venv first).
# Arguments pass through to pytest, e.g. ./run_tests.sh -k quotes
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
