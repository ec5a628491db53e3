"""A persistent child process that runs one kind of call under a time budget.

Beam runs DoFns in non-main threads, so SIGALRM cannot interrupt a hanging
trafilatura or spaCy call, and a thread cannot be killed. A DoFn instance
therefore keeps one child (``python -m transforms.sandbox.worker``) and sends it
requests over a pipe. A call that overruns its budget, or whose child grows
past ``max_rss_mb``, kills the child and raises ``BudgetExceeded``; the next
call starts a fresh child. The child also ends by itself when the parent goes
away: on EOF while idle, and by SIGALRM (default action: terminate) when a call
runs far past its budget, so a killed run leaves no busy orphan behind.

The messages and the child's loop are in ``transforms.sandbox.protocol``; a
child comes from the run's zygote when the worker is handed its address
(``zygote``), else from a new interpreter.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, Iterator

from transforms.errors import DocumentError
from transforms.sandbox import zygote as zygote_lib
from transforms.sandbox.protocol import child_env, read_message, serve_calls, write_message


class BudgetExceeded(DocumentError):
    """A call ran out of time or memory; its child process was killed."""

    code = "TimeBudgetExceeded"


class WorkerDied(DocumentError):
    """The child process ended in the middle of a call (crash, OOM kill)."""

    code = "WorkerDied"


class RemoteError(Exception):
    """An exception raised by the target inside the child."""

    def __init__(self, code: str, message: str, detail: str):
        super().__init__(message)
        self.code, self.detail = code, detail


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        try:
            import psutil
            return psutil.Process(pid).memory_info().rss / 2**20
        except Exception:
            return 0.0


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a live process in MB (VmHWM; 0 when unknown)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss_mb(pid)


class Worker:
    """Runs ``target`` (``"module:function"``) in a child process.

    ``setup`` (``"module:function"``) is called once in the child with
    ``setup_args`` before any call. ``what`` and ``option`` name the work and
    the option that sets its budget, for error messages. ``zygote``: the socket
    of the run's zygote (``zygote.serve``) to fork children from, or None.
    """

    def __init__(self, target: str, setup: str | None = None, setup_args: tuple = (),
                 what: str = "call", option: str = "", max_rss_mb: float = 0,
                 startup_seconds: float = 600, zygote: str | None = None):
        self.target, self.setup, self.setup_args = target, setup, setup_args
        self.zygote = zygote
        self.what, self.option = what, option
        self.max_rss_mb, self.startup_seconds = max_rss_mb, startup_seconds
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._peak = 0.0

    def _fork(self):
        """A child forked by the run's zygote (``transforms.sandbox.zygote``), or None."""
        if not self.zygote:
            return None
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        pid = zygote_lib.spawn(self.zygote, child_in, child_out, self.target)
        os.close(child_in)
        os.close(child_out)
        if pid is None:
            os.close(to_child)
            os.close(from_child)
            return None
        return zygote_lib.ForkedChild(pid, to_child, from_child)

    def start(self) -> None:
        """Start the child (forked by the zygote where there is one, else a new
        interpreter) and wait until its setup is done."""
        self.proc = self._fork()
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "transforms.sandbox.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=child_env(), close_fds=True)
        try:
            write_message(self.proc.stdin.fileno(), ("setup", self.target, self.setup, self.setup_args))
            status, payload = read_message(self.proc.stdout.fileno(),
                                    time.monotonic() + self.startup_seconds)
        except (OSError, EOFError, TimeoutError) as exc:
            self.kill()
            raise RuntimeError(f"{self.what} worker did not start: {exc!r}") from exc
        if status != "ready":
            self.kill()
            raise RuntimeError(f"{self.what} worker setup failed: {payload[0]}: "
                               f"{payload[1]}\n{payload[2]}")

    def peak_mb(self) -> float:
        """The highest resident memory any of this worker's children reached, in MB."""
        if self.proc is not None:
            self._peak = max(self._peak, peak_rss_mb(self.proc.pid))
        return self._peak

    def _check_memory(self) -> None:
        rss = rss_mb(self.proc.pid)
        self._peak = max(self._peak, rss)
        if self.max_rss_mb and rss > self.max_rss_mb:
            self.kill()
            raise BudgetExceeded(
                f"{self.what} used more than {self.max_rss_mb:,.0f} MB "
                f"(--worker_max_rss_mb); its worker process was restarted",
                code="MemoryBudgetExceeded")

    def stream(self, *args, timeout: float) -> Iterator[Any]:
        """Results of ``target(*args)`` as they come: each item of a generator
        target, or its one return value. Each result must arrive within
        ``timeout`` seconds of the previous one (of the request, for the first)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            write_message(self.proc.stdin.fileno(), ("call", args, timeout))
        except OSError:  # the idle child died: one fresh start
            self.kill()
            self.start()
            write_message(self.proc.stdin.fileno(), ("call", args, timeout))
        out, finished = self.proc.stdout.fileno(), False
        try:
            while True:
                try:
                    status, payload = read_message(out, time.monotonic() + timeout, self._check_memory)
                except TimeoutError:
                    self.kill()
                    raise BudgetExceeded(
                        f"{self.what} took longer than {timeout:g} s ({self.option}); "
                        f"its worker process was restarted") from None
                except EOFError:
                    code = self.kill()
                    raise WorkerDied(f"the {self.what} worker process died (exit code {code}) "
                                     f"during this document; it was restarted") from None
                if status == "item":
                    yield payload
                    continue
                finished = True
                if status == "done":
                    if payload is not None:
                        yield payload
                    return
                raise RemoteError(*payload)
        finally:
            if not finished and self.proc is not None:
                self.kill()  # abandoned mid-answer: the pipe holds the rest of it

    def call(self, *args, timeout: float) -> Any:
        """The return value of ``target(*args)``, within ``timeout`` seconds."""
        results = list(self.stream(*args, timeout=timeout))
        return results[0] if results else None

    def kill(self) -> int | None:
        """Kill the child now; returns its exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        self._peak = max(self._peak, peak_rss_mb(proc.pid))
        self.restarts += 1
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        return code

    def close(self) -> None:
        """Stop the child: EOF on its input, then a kill if it lingers."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        self._peak = max(self._peak, peak_rss_mb(proc.pid))
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


class SharedWorker:
    """One ``Worker`` per process for every DoFn instance that asks for the same
    tag (through Beam's ``Shared``): one child, so one spaCy model, per worker
    process. Calls from concurrent bundles take turns (``lock``)."""

    def __init__(self, worker: Worker):
        import threading

        self.worker, self.lock = worker, threading.Lock()


def acquire_worker(shared, tag: str, *args, **kwargs) -> SharedWorker:
    """The process-wide ``SharedWorker`` for ``tag``, started on first use;
    ``args``/``kwargs`` are ``Worker``'s."""
    def start() -> SharedWorker:
        worker = Worker(*args, **kwargs)
        worker.start()
        return SharedWorker(worker)
    return shared.acquire(start, tag=tag)


if __name__ == "__main__":
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # failures travel back as error rows
    serve_calls()
