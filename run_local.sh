#!/usr/bin/env bash
# Run the pipeline locally. With no arguments: the bundled samples into ./output.
# Arguments pass through to `python -m pipeline` (see README).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
if [ $# -eq 0 ]; then
  set -- --input samples/html --input samples/articles.jsonl --input samples/articles.warc.gz \
         --input samples/bad --output output
fi
.venv/bin/python -m pipeline "$@"
output=output
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output=$2; shift ;;
    --output=*) output=${1#--output=} ;;
  esac
  shift
done
.venv/bin/python scripts/show_output.py "$output"
