"""A persistent child process that runs one kind of call under a time budget.

Beam runs DoFns in non-main threads, so SIGALRM cannot interrupt a hanging
trafilatura or spaCy call, and a thread cannot be killed. A DoFn instance
therefore keeps one child (``python -m transforms.sandbox.worker``) and sends it
requests over a pipe. A call that overruns its budget, or whose child grows
past ``max_rss_mb``, kills the child and raises ``BudgetExceeded``; the next
call starts a fresh child. The child also ends by itself when the parent goes
away: on EOF while idle, and by SIGALRM (default action: terminate) when a call
runs far past its budget, so a killed run leaves no busy orphan behind.

Protocol: length-prefixed pickles. Parent -> child: ``("setup", target, setup,
setup_args)`` once, then ``("call", args, timeout)``. Child -> parent:
``("ready", None)``, ``("item", x)`` per result of a generator target,
``("done", value)``, or ``("error", (code, message, traceback))``.
"""
from __future__ import annotations

import importlib
import inspect
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from transforms.errors import DocumentError

_HEADER = struct.Struct("!Q")
_ROOT = str(Path(__file__).resolve().parent.parent)
# The child's own alarm: this many times the budget, plus a margin.
_ALARM_FACTOR, _ALARM_MARGIN = 2, 10
_POLL_SECONDS = 1.0


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


def child_env() -> dict[str, str]:
    """This process's environment, with the project importable by a new interpreter."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p))


def _resolve(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _write(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int, deadline: float | None, check=None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                ready, _, _ = select.select([fd], [], [], min(remaining, _POLL_SECONDS))
                if ready:
                    break
                if check:
                    check()
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(fd: int, deadline: float | None = None, check=None) -> Any:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline, check))
    return pickle.loads(_read_exact(fd, size, deadline, check))


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
    the option that sets its budget, for error messages.
    """

    def __init__(self, target: str, setup: str | None = None, setup_args: tuple = (),
                 what: str = "call", option: str = "", max_rss_mb: float = 0,
                 startup_seconds: float = 600):
        self.target, self.setup, self.setup_args = target, setup, setup_args
        self.what, self.option = what, option
        self.max_rss_mb, self.startup_seconds = max_rss_mb, startup_seconds
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._peak = 0.0

    def _fork(self):
        """A child forked by the run's zygote (``transforms.sandbox.zygote``), or None."""
        from transforms.sandbox import zygote

        if not os.environ.get(zygote.ENV):
            return None
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        pid = zygote.spawn(child_in, child_out)
        os.close(child_in)
        os.close(child_out)
        if pid is None:
            os.close(to_child)
            os.close(from_child)
            return None
        return zygote.ForkedChild(pid, to_child, from_child)

    def start(self) -> None:
        """Start the child (forked by the zygote where there is one, else a new
        interpreter) and wait until its setup is done."""
        self.proc = self._fork()
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "transforms.sandbox.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=child_env(), close_fds=True)
        try:
            _write(self.proc.stdin.fileno(), ("setup", self.target, self.setup, self.setup_args))
            status, payload = _read(self.proc.stdout.fileno(),
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
            _write(self.proc.stdin.fileno(), ("call", args, timeout))
        except OSError:  # the idle child died: one fresh start
            self.kill()
            self.start()
            _write(self.proc.stdin.fileno(), ("call", args, timeout))
        out, finished = self.proc.stdout.fileno(), False
        try:
            while True:
                try:
                    status, payload = _read(out, time.monotonic() + timeout, self._check_memory)
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


def _child() -> None:
    """The child's loop: set up once, then answer calls until EOF."""
    inp, out = 0, os.dup(1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    try:
        _, target, setup, setup_args = _read(inp)
        if setup:
            _resolve(setup)(*setup_args)
        function = _resolve(target)
    except BaseException as exc:
        _write(out, ("error", (type(exc).__name__, str(exc), traceback.format_exc())))
        return
    _write(out, ("ready", None))
    while True:
        try:
            _, args, timeout = _read(inp)
        except EOFError:  # the parent is done: skip the interpreter's teardown
            os._exit(0)
        alarm = int(math.ceil(timeout * _ALARM_FACTOR + _ALARM_MARGIN))
        signal.alarm(alarm)
        try:
            result = function(*args)
            if inspect.isgenerator(result):
                for item in result:
                    _write(out, ("item", item))
                    signal.alarm(alarm)
                result = None
            _write(out, ("done", result))
        except Exception as exc:
            _write(out, ("error", (getattr(exc, "code", None) or type(exc).__name__,
                                   str(exc) or type(exc).__name__, traceback.format_exc())))
        finally:
            signal.alarm(0)


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
    _child()
