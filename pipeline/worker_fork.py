"""Beam's SDK workers forked from a process that has imported them.

In ``--direct_running_mode=multi_processing`` the local runner starts each SDK
worker as ``python -m apache_beam.runners.worker.sdk_worker_main``: an
interpreter that imports Beam, grpc, pyarrow and the pipeline's modules again,
about 2 s of CPU per worker before it takes its first bundle, on the cores the
run needs. ``start_early`` starts one *worker zygote*: a fork of the launcher once
it has imported Beam and the pipeline (``python -m pipeline``), so those imports
are paid once, or else a fresh interpreter; it imports the rest of what a worker
needs and then forks one per request (``spawn``), in milliseconds. A forked worker runs Beam's own
``sdk_worker_main.main`` with the environment Beam gave it, in a process group of
its own, and ends like one started from scratch; ``ForkedWorker`` is the
``subprocess.Popen`` Beam waits on, and learns its exit status from the zygote.
Without an answer (no zygote, or it failed), workers start from scratch.

Protocol: a client connects to the Unix socket and sends the length of its
environment as JSON (4 bytes) and the JSON, with two file descriptors (the
worker's stdout and stderr). The zygote forks a waiter, which forks the worker,
answers with the worker's pid (8 bytes), then with its exit code (8 bytes, a
negative signal number if killed) when it ends. The zygote ends when the
launcher goes away (EOF on its stdin; it then removes its socket and folder);
a waiter kills its worker's process group when the launcher's end of the
connection closes, and a worker dies with its waiter, so a launcher killed at any
moment leaves no worker behind; a running worker outlives the zygote.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from transforms.sandbox.zygote import (die_with_parent, name_process, read_exactly,
                                       release_in_fork, remove_socket, stop_server)

_LEN = struct.Struct("!I")
_CODE = struct.Struct("!q")
# What an SDK worker imports before its first bundle: Beam's worker, the pipeline's
# modules (its DoFns are unpickled from them), and later the Parquet writer and the
# stories stage's MinHash.
PRELOADS = ("apache_beam.runners.worker.sdk_worker_main", "pipeline.build",
            "pyarrow.parquet", "datasketch")
WAIT_SECONDS = 60.0

_early: tuple[subprocess.Popen, str, str] | None = None


def wanted(argv: list[str]) -> bool:
    """Whether this command line runs SDK worker processes (``multi_processing``)."""
    return any(arg.endswith("multi_processing") for arg in argv) and "--no_zygote" not in argv


def start_early(fork: bool = False) -> None:
    """Start the worker zygote now, importing ``PRELOADS`` while the caller goes on:
    with ``fork``, a fork of this process (which has imported Beam, so only the rest
    of ``PRELOADS`` is left), where it runs no other Python thread; else a fresh
    interpreter."""
    global _early
    if _early is not None:
        return
    folder = tempfile.mkdtemp(prefix="news-workers-")
    path = os.path.join(folder, "socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(16)
        if fork and threading.active_count() == 1 and hasattr(os, "fork"):
            proc = _fork_zygote(server.fileno())
        else:
            proc = subprocess.Popen([sys.executable, "-m", "pipeline.worker_fork",
                                     str(server.fileno())],
                                    stdin=subprocess.PIPE, pass_fds=[server.fileno()])
    _early = (proc, path, folder)


class _ForkedZygote:
    """The forked worker zygote as ``stop_server`` uses a ``Popen``: ``stdin`` (its
    EOF stops it), ``wait``, ``kill``."""

    def __init__(self, pid: int, stdin):
        self.pid, self.stdin = pid, stdin

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already
                return 0
            if pid:
                return os.waitstatus_to_exitcode(status)
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("worker zygote", timeout)
            time.sleep(0.01)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def _fork_zygote(listen_fd: int) -> _ForkedZygote:
    """Fork this process into the worker zygote, which serves ``listen_fd`` until EOF
    on the pipe it gets as stdin."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()  # nothing buffered here is written twice
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(write_fd)
            if read_fd != 0:  # 0 already when the launcher was started without a stdin
                os.dup2(read_fd, 0)
                os.close(read_fd)
            release_in_fork()  # the spaCy zygote ends when the launcher closes it
            name_process("news-workers")
            _serve(listen_fd)
        finally:
            os._exit(0)
    os.close(read_fd)
    return _ForkedZygote(pid, os.fdopen(write_fd, "wb"))


def stop() -> None:
    """Stop the worker zygote (its forked workers are Beam's to end)."""
    global _early
    started, _early = _early, None
    if started is None:
        return
    stop_server(*started)


def address() -> str | None:
    """The worker zygote's socket, if one was started."""
    return _early[1] if _early is not None else None


class ForkedWorker:
    """A forked SDK worker as Beam uses a ``subprocess.Popen``: ``pid``, ``wait``,
    ``poll``, ``kill``, ``returncode`` (``stderr``: the pipe its stderr goes to, if any)."""

    def __init__(self, pid: int, conn: socket.socket, stderr=None):
        self.pid, self._conn, self.stderr = pid, conn, stderr
        self.returncode: int | None = None
        self.args = "sdk_worker_main (forked)"

    def _read_code(self, timeout: float | None) -> int | None:
        ready, _, _ = select.select([self._conn], [], [], timeout)
        if not ready:
            return None
        try:
            self.returncode = _CODE.unpack(read_exactly(self._conn, _CODE.size))[0]
        except (OSError, EOFError):  # the waiter is gone: the worker with it
            self.returncode = -signal.SIGKILL
        self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode if self.returncode is not None else self._read_code(0)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._read_code(timeout) is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def spawn(env: dict, stderr_fd: int | None = None, stderr=None) -> ForkedWorker | None:
    """An SDK worker forked by the worker zygote with environment ``env`` (stdout: this
    process's; stderr: ``stderr_fd``, else this process's), or None."""
    path = address()
    if path is None:
        return None
    payload = json.dumps(env).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(WAIT_SECONDS)
        conn.connect(path)
        socket.send_fds(conn, [_LEN.pack(len(payload)) + payload],
                        [1, 2 if stderr_fd is None else stderr_fd])
        pid = _CODE.unpack(read_exactly(conn, _CODE.size))[0]
        conn.settimeout(None)
        return ForkedWorker(pid, conn, stderr)
    except (OSError, EOFError):
        conn.close()
        return None


def _run_worker(env: dict) -> int:
    """In the forked worker: Beam's SDK worker, as ``python -m`` would run it."""
    with contextlib.suppress(OSError):  # a group of its own (see ``_fork_worker``), which
        os.setpgid(0, 0)  # a terminal's Ctrl-C does not reach (pipeline.interrupts)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [sys.argv[0]]
    from apache_beam.runners.worker import sdk_worker_main

    from transforms.shaping.memory import trim_in_background
    trim_in_background()  # each stage's input comes whole; its freed heap goes back
    try:
        sdk_worker_main.main(sys.argv)
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def _receive(server: socket.socket) -> tuple[socket.socket, dict, list[int]] | None:
    conn, _ = server.accept()
    try:
        head, fds, _, _ = socket.recv_fds(conn, _LEN.size, 2)
        head += read_exactly(conn, _LEN.size - len(head))
        data = read_exactly(conn, _LEN.unpack(head)[0])
        if len(fds) != 2:
            raise EOFError
        return conn, json.loads(data), fds
    except (OSError, EOFError, ValueError, struct.error):
        conn.close()
        return None


def _fork_worker(server: socket.socket, conn: socket.socket, env: dict, fds: list[int]) -> None:
    """Fork the waiter, which forks the worker, reports its pid, waits, reports its code.

    A worker whose launcher is killed as it starts would wait for it forever: the
    waiter kills the worker's group when the launcher's end of ``conn`` closes
    (``_wait_worker``), and the worker dies with its waiter."""
    if os.fork() != 0:
        return
    code = 1
    try:
        server.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the waiter waits for its worker
        waiter_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            die_with_parent(waiter_pid)
            conn.close()
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            for fd in fds:
                os.close(fd)
            try:
                code = _run_worker(env)
            except BaseException:  # noqa: BLE001 - reported as a worker's exit code
                import traceback

                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):  # the group exists before its pid is told
            os.setpgid(pid, pid)
        conn.sendall(_CODE.pack(pid))
        status = _wait_worker(pid, conn)
        with contextlib.suppress(OSError):  # no launcher left to tell
            conn.sendall(_CODE.pack(os.waitstatus_to_exitcode(status)))
        code = 0
    finally:
        os._exit(code)


def _wait_worker(pid: int, conn: socket.socket) -> int:
    """Wait for the worker ``pid``; kill its group first if the launcher goes away (EOF
    on ``conn``: it sends nothing after its request). Its wait status."""
    watched = [conn]
    with contextlib.suppress(OSError, AttributeError):  # pidfd: Linux 5.3, Python 3.9
        watched.append(os.pidfd_open(pid))
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        ready, _, _ = select.select(watched, [], [], None if len(watched) > 1 else 0.5)
        if conn in ready:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]


def _serve(listen_fd: int) -> None:
    import gc
    import importlib
    import logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's: EOF ends us
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the waiters
    logging.getLogger().setLevel(logging.ERROR)  # Beam's import-time notices
    for module in PRELOADS:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    logging.getLogger().setLevel(logging.WARNING)
    gc.collect()
    gc.freeze()  # keep the collector from touching (so copying) the shared pages
    server = socket.socket(fileno=listen_fd)
    while True:
        ready, _, _ = select.select([server, 0], [], [])
        if 0 in ready and not os.read(0, 1):
            remove_socket(server)
            return
        if server in ready:
            try:
                request = _receive(server)
            except OSError:  # accept failed (EMFILE, ECONNABORTED): serve the next one
                continue
            if request is None:
                continue
            conn, env, fds = request
            try:
                _fork_worker(server, conn, env, fds)
            except OSError:  # no fork now (EAGAIN, ENOMEM): that client starts its own
                pass
            finally:
                conn.close()
                for fd in fds:
                    os.close(fd)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
