#!/usr/bin/env bash
# Build Beam's Prism runner (default) or, with --boot, Beam's Python SDK worker
# boot program (used by --environment_type=PROCESS) from the Go module proxy
# into <repo>/.cache/prism/. Every Go path (GOPATH, GOMODCACHE, GOCACHE, GOBIN)
# stays inside that cache. Idempotent: skips the build when the binary exists.
# Last line of stdout: absolute path of the binary.
# Env: PRISM_VERSION (default: the venv's apache-beam version, else 2.77.0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/prism"
PY="${PYTHON:-$ROOT/.venv/bin/python}"

case "${1:-}" in
  "")     PKG=go/cmd/prism;        NAME=prism ;;
  --boot) PKG=python/container;    NAME=container ;;
  *) echo "usage: $0 [--boot]" >&2; exit 64 ;;
esac

if [[ -z "${PRISM_VERSION:-}" ]]; then
  PRISM_VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("apache-beam"))' 2>/dev/null || echo 2.77.0)"
fi
BIN_DIR="$CACHE/v$PRISM_VERSION/bin"
BIN="$BIN_DIR/$NAME"

if [[ -x "$BIN" ]]; then
  echo "$NAME v$PRISM_VERSION already built" >&2
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "go not found on PATH" >&2; exit 2; }

export GOPATH="$CACHE/gopath"
export GOMODCACHE="$CACHE/gopath/pkg/mod"
export GOCACHE="$CACHE/gocache"
export GOBIN="$BIN_DIR"
export GOFLAGS="${GOFLAGS:-} -modcacherw"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
mkdir -p "$BIN_DIR"

start=$(date +%s)
MOD="github.com/apache/beam/sdks/v2"
echo "building $MOD/$PKG@v$PRISM_VERSION (go $(go env GOVERSION)) ..." >&2
if ! go install "$MOD/$PKG@v$PRISM_VERSION" >&2; then
  echo "go install $MOD/$PKG@v$PRISM_VERSION failed; versions the proxy serves:" >&2
  go list -m -versions "$MOD" >&2 || true
  exit 1
fi
echo "built $NAME in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
