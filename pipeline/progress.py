"""Progress lines a person can follow: counts, rate, and an ETA where the total is known.

``[progress] annotated 812/1,400 articles, 3.4/s, eta 2m05s``

Each worker counts what it passes through. When the run's staging folder is
local (every local runner), workers also leave their counts in
``<staging>/_progress/<stage>/<pid>`` and print the sum over all workers, so a
2-worker run shows one total; elsewhere a line counts one worker's share.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

PROGRESS = "_progress"
# Tests only: "annotated:10" SIGKILLs the process running this stage after its
# 10th annotated article (a deterministic kill mid-run).
KILL_AFTER = "NEWS_PIPELINE_KILL_AFTER"


def _kill_after(verb: str) -> int | None:
    stage, _, count = os.environ.get(KILL_AFTER, "").partition(":")
    return int(count) if stage == verb and count else None


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def progress_line(verb: str, what: str, done: int, total: int | None, rate: float,
                  scope: str = "") -> str:
    count = f"{done:,}/{total:,}" if total else f"{done:,}"
    line = f"[progress] {verb} {count} {what}{scope}"
    if rate <= 0:
        return line
    line += f", {rate:.1f}/s"
    if total and rate > 0 and done < total:
        line += f", eta {format_eta((total - done) / rate)}"
    return line


class _Tally:
    """This worker's count in a shared local folder, and the sum of all workers'."""

    def __init__(self, folder: str | None):
        self.folder = folder if folder and FileSystems.get_scheme(folder) is None else None
        if self.folder:
            os.makedirs(self.folder, exist_ok=True)
            self.mine = os.path.join(self.folder, str(os.getpid()))

    def shared(self) -> bool:
        return self.folder is not None

    def update(self, count: int, started: float) -> tuple[int, float]:
        """(count of all workers, earliest start) after recording this worker's."""
        if not self.folder:
            return count, started
        tmp = f"{self.mine}.tmp"
        with open(tmp, "w") as f:
            json.dump([count, started], f)
        os.replace(tmp, self.mine)
        total, first = 0, started
        for name in os.listdir(self.folder):
            if name.endswith(".tmp"):
                continue
            try:
                with open(os.path.join(self.folder, name)) as f:
                    n, t = json.load(f)
            except (OSError, ValueError):
                continue
            total, first = total + n, min(first, t)
        return total, first


class _ProgressFn(beam.DoFn):
    def __init__(self, verb: str, what: str, every_seconds: float, folder: str | None):
        self.verb, self.what, self.every, self.folder = verb, what, every_seconds, folder

    def setup(self):
        self.count, self.started = 0, None
        self.kill_after = _kill_after(self.verb)
        self.last = time.monotonic()
        self.tally = _Tally(self.folder) if self.every else None

    def process(self, element, total=None):
        self.count += 1
        if self.kill_after is not None and self.count >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        now = time.monotonic()
        if self.started is None:
            self.started, self.wall_started = now, time.time()
        if self.every and now - self.last >= self.every:
            self.last = now
            self._report(total)
        yield element

    def _report(self, total: int | None) -> None:
        done, first = self.tally.update(self.count, self.wall_started)
        elapsed = time.time() - first
        rate = done / elapsed if elapsed >= 1.0 else 0.0  # no rate from a first instant
        scope = "" if self.tally.shared() else f" (worker {os.getpid()})"
        print(progress_line(self.verb, self.what, done, total if self.tally.shared() else None,
                            rate, scope), file=sys.stderr, flush=True)


class Progress(beam.PTransform):
    """Passes elements through, printing a progress line every few seconds.
    ``total``: a singleton PCollection with the number expected (for an ETA);
    ``folder``: where local workers share their counts (see the module)."""

    def __init__(self, verb: str, what: str, every_seconds: float, folder: str | None = None,
                 total: beam.PCollection | None = None):
        super().__init__()
        self.verb, self.what, self.every = verb, what, every_seconds
        self.folder, self.total = folder, total

    def expand(self, pcoll):
        fn = _ProgressFn(self.verb, self.what, self.every, self.folder)
        if self.total is None or not self.every:
            return pcoll | beam.ParDo(fn)
        return pcoll | beam.ParDo(fn, total=beam.pvalue.AsSingleton(self.total))


def progress_folder(staged: str | None, stage: str) -> str | None:
    return FileSystems.join(staged, PROGRESS, stage) if staged else None
