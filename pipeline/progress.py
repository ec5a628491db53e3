"""A periodic progress line per worker for long runs."""
from __future__ import annotations

import os
import sys
import time

import apache_beam as beam


class _ProgressFn(beam.DoFn):
    def __init__(self, what: str, every_seconds: float):
        self.what, self.every = what, every_seconds

    def setup(self):
        self.count, self.started = 0, time.monotonic()
        self.last = self.started

    def process(self, element):
        self.count += 1
        now = time.monotonic()
        if self.every and now - self.last >= self.every:
            self.last = now
            rate = self.count / max(now - self.started, 1e-9)
            print(f"[progress] worker {os.getpid()}: {self.count} {self.what} "
                  f"({rate:.1f}/s)", file=sys.stderr, flush=True)
        yield element


class Progress(beam.PTransform):
    """Passes elements through, printing a count and rate every few seconds."""

    def __init__(self, what: str, every_seconds: float):
        super().__init__()
        self.what, self.every = what, every_seconds

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_ProgressFn(self.what, self.every))
