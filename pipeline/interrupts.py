"""Ctrl-C as one line: the launcher alone handles SIGINT.

A terminal's Ctrl-C reaches every process of the foreground group: the
launcher, the zygote, trafilatura/spaCy children, and Beam's SDK worker
processes in ``multi_processing`` mode, each of which would print its own
KeyboardInterrupt traceback. Children and the zygote ignore SIGINT themselves
(they end on EOF from their parent). SDK workers' own INFO and WARNING log
lines are dropped from their stderr unless ``--debug``. SDK workers start in a process group of
their own, which a terminal's Ctrl-C does not reach; on SIGINT the launcher
kills those groups (a worker mid-bundle would otherwise keep Beam's shutdown
waiting) and unwinds with KeyboardInterrupt.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from typing import Iterator


_WORKERS: list[subprocess.Popen] = []
_QUIET = {"on": True}
# Python logging's default format, as SDK workers print before they read options.
_LOG_LINE = re.compile(rb"^(DEBUG|INFO|WARNING):[\w.]+:")


def _forward(stream, sink) -> None:
    """Copy an SDK worker's stderr, dropping its INFO/WARNING log lines. The last line
    of a worker killed as it wrote it is ended here, so that what the launcher prints
    next starts a line of its own."""
    for line in iter(stream.readline, b""):
        if not _LOG_LINE.match(line):
            sink.write(line if line.endswith(b"\n") else line + b"\n")
            sink.flush()
    stream.close()


class _WorkerPopen(subprocess.Popen):
    """An SDK worker process, in a process group of its own, with quiet logs."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("start_new_session", True)
        quiet = _QUIET["on"] and "stderr" not in kwargs
        if quiet:
            kwargs["stderr"] = subprocess.PIPE
        super().__init__(*args, **kwargs)
        _WORKERS.append(self)
        if quiet:
            threading.Thread(target=_forward, args=(self.stderr, sys.stderr.buffer),
                             name="sdk-worker-stderr", daemon=True).start()


def _start_worker(*args, **kwargs):
    """An SDK worker forked by the worker zygote (``pipeline.worker_fork``) when there is
    one, else started as Beam starts it (``_WorkerPopen``)."""
    from pipeline import worker_fork

    env = kwargs.get("env")
    if env is not None and "stderr" not in kwargs and worker_fork.address() is not None:
        read_fd, write_fd = os.pipe() if _QUIET["on"] else (None, None)
        stream = os.fdopen(read_fd, "rb") if read_fd is not None else None
        proc = worker_fork.spawn(env, write_fd, stream)
        if write_fd is not None:
            os.close(write_fd)
        if proc is not None:
            _WORKERS.append(proc)
            if stream is not None:
                threading.Thread(target=_forward, args=(stream, sys.stderr.buffer),
                                 name="sdk-worker-stderr", daemon=True).start()
            return proc
        if stream is not None:
            stream.close()
    return _WorkerPopen(*args, **kwargs)


class _SubprocessShim:
    """Beam's ``local_job_service.subprocess`` (it starts the SDK workers)."""

    def __getattr__(self, name: str):
        return _start_worker if name == "Popen" else getattr(subprocess, name)


def kill_workers() -> None:
    for proc in _WORKERS:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
    _WORKERS.clear()


class Interrupts:
    """Remembers a SIGINT (Beam re-raises it wrapped in a RuntimeError)."""

    def __init__(self, quiet_workers: bool = True):
        self.seen = False
        _QUIET["on"] = quiet_workers

    def __call__(self, signum, frame):
        self.seen = True
        kill_workers()
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator["Interrupts"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        from apache_beam.runners.portability import local_job_service

        previous = signal.signal(signal.SIGINT, self)
        previous_module = local_job_service.subprocess
        local_job_service.subprocess = _SubprocessShim()
        previous_hook = threading.excepthook
        threading.excepthook = self._thread_failed
        try:
            yield self
        finally:
            threading.excepthook = previous_hook
            local_job_service.subprocess = previous_module
            signal.signal(signal.SIGINT, previous)

    def _thread_failed(self, args) -> None:
        """Beam's worker threads fail loudly once their workers are killed: quiet then."""
        if not self.seen:
            threading.__excepthook__(args)
