"""Tiny word-count pipeline that proves a Beam runner really executes Python.

Usage: python scripts/smoke_runner.py --output DIR [beam pipeline options]
e.g.   --runner=PrismRunner --prism_location=.cache/prism/v2.77.0/bin/prism
       --runner=PortableRunner --job_endpoint=localhost:8099 --environment_type=LOOPBACK

It reads nothing from main-session globals on workers, writes through Beam's
text sink and asserts the written counts; prints "SMOKE OK runner=... seconds=...".
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

LINES = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "the dog sleeps",
    "a fox and a dog",
] * 25

EXPECTED: dict[str, int] = dict(
    collections.Counter(w for line in LINES for w in line.split())
)


def build(p: beam.Pipeline, output_prefix: str) -> None:
    """Word count with a shuffle (CombinePerKey) and a sharded text write.

    Only lambdas and builtins, so workers need none of this repo's modules."""
    (
        p
        | "Create" >> beam.Create(LINES, reshuffle=True)
        | "Split" >> beam.FlatMap(str.split)
        | "Pair" >> beam.Map(lambda w: (w, 1))
        | "Count" >> beam.CombinePerKey(sum)
        | "Format" >> beam.Map(lambda kv: f"{kv[0]}\t{kv[1]}")
        | "Write" >> beam.io.WriteToText(output_prefix, file_name_suffix=".tsv", num_shards=2)
    )


def read_counts(output_prefix: str) -> dict[str, int]:
    """Parse the files the pipeline wrote back into {word: count}."""
    counts: dict[str, int] = {}
    for path in sorted(glob.glob(output_prefix + "*.tsv")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                word, n = line.rstrip("\n").split("\t")
                assert word not in counts, f"duplicate key {word!r} in output"
                counts[word] = int(n)
    return counts


def run_smoke(output_dir: str, beam_args: list[str]) -> tuple[dict[str, int], float]:
    """Run the word count with beam_args; return (counts read back, seconds)."""
    os.makedirs(output_dir, exist_ok=True)
    prefix = os.path.join(os.path.abspath(output_dir), "counts")
    for old in glob.glob(prefix + "*"):
        os.remove(old)
    start = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
        build(p, prefix)
    return read_counts(prefix), time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory for the text output")
    args, beam_args = parser.parse_known_args(argv)
    counts, seconds = run_smoke(args.output, beam_args)
    if counts != EXPECTED:
        print(f"SMOKE FAILED: got {counts}, expected {EXPECTED}", file=sys.stderr)
        return 1
    runner = next((a.split("=", 1)[1] for a in beam_args if a.startswith("--runner=")), "default")
    print(f"SMOKE OK runner={runner} words={len(counts)} seconds={seconds:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
