"""Zygote: one preloaded process that forks ready ``transforms.sandbox.worker`` children.

A child started from scratch pays for an interpreter, trafilatura, spaCy, the
model and the extractors' data: seconds of CPU in every worker process, and
again after every budget kill. For a run on one machine the launcher starts one
zygote (``serve``). It runs the children's setups once (``preload``, while the
launcher is still building the pipeline) and then forks a child per request in
milliseconds; the loaded model is shared copy-on-write by every child.

``python -m pipeline`` starts it before importing Beam (``start_early``), so its
imports overlap the launcher's; ``serve`` then hands it the preloads the
options call for, or stops it. The stages are handed its socket path
(``address()``, while building the pipeline) and pass it to their workers:
local runners' workers (direct, Prism, Flink loopback) reach it. Without an
address, or without an answer, children start from scratch
(``transforms.sandbox.worker.Worker.start``).

Protocol: a client connects to the Unix socket and sends its pid (8 bytes)
with two file descriptors, the child's stdin and stdout. The zygote forks; the
child makes them its fds 0 and 1, names itself ``news:<client pid>`` (so ``ps``
and the benchmark know whose child it is) and runs ``protocol.serve_calls``. The
zygote answers with the child's pid (8 bytes). Children are reaped by the
kernel (SIGCHLD ignored); a child ends when its client closes its stdin.
"""
from __future__ import annotations

import ast
import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import Iterator

from transforms.sandbox.protocol import child_env, resolve, serve_calls

_PID = struct.Struct("!q")
# How long a client waits for a fork, the zygote's preload included.
WAIT_SECONDS = 120.0


def spawn(address: str, stdin_fd: int, stdout_fd: int) -> int | None:
    """Fork a child from the zygote listening at ``address`` with these fds as
    its stdin and stdout; its pid, or None (no zygote there, or no answer)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(WAIT_SECONDS)
            sock.connect(address)
            socket.send_fds(sock, [_PID.pack(os.getpid())], [stdin_fd, stdout_fd])
            data = b""
            while len(data) < _PID.size:
                chunk = sock.recv(_PID.size - len(data))
                if not chunk:
                    return None
                data += chunk
            return _PID.unpack(data)[0]
    except OSError:
        return None


class ForkedChild:
    """A zygote's child as ``transforms.sandbox.worker`` uses a ``subprocess.Popen``:
    ``pid``, ``stdin``, ``stdout``, ``poll``, ``wait``, ``kill``. It is not our
    child, so its exit code is unknown (-1)."""

    def __init__(self, pid: int, stdin_fd: int, stdout_fd: int):
        self.pid = pid
        self.stdin = os.fdopen(stdin_fd, "wb", buffering=0)
        self.stdout = os.fdopen(stdout_fd, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)  # the zygote reaps its children: gone means ended
                alive = True
            except ProcessLookupError:
                alive = False
            except PermissionError:
                alive = True
            if not alive:
                self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def _name_process(name: str) -> None:
    """Set this process's name (``/proc/<pid>/comm``, 15 bytes) where Linux allows."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except Exception:  # noqa: BLE001 - only a label
        pass


def _child(conn: socket.socket, server: socket.socket, fds: list[int], owner: int) -> None:
    """In the forked child: take the fds, then serve calls like any worker child."""
    try:
        server.close()
        conn.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        for fd in fds:
            os.close(fd)
        _name_process(f"news:{owner}")
        serve_calls()
    finally:
        os._exit(0)


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            return b""
        data += chunk
    return data


def _preload(imports: tuple[str, ...]) -> bool:
    """Import ``imports``, read the preloads (one line on stdin) and run them;
    False when the launcher sent none (it needs no zygote after all)."""
    import gc
    import importlib

    for module in imports:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    line = _read_line(0)
    if not line:
        return False
    for setup, args in ast.literal_eval(line.decode()):
        try:
            resolve(setup)(*args)
        except Exception as exc:  # noqa: BLE001 - a child's own setup will report it
            print(f"zygote: preload {setup} failed: {exc!r}", file=sys.stderr)
    gc.collect()
    gc.freeze()  # keep the collector from touching (so copying) the shared pages
    return True


def _fork_for_client(server: socket.socket) -> None:
    """Accept one request, fork its child and answer with the child's pid."""
    conn, _ = server.accept()
    with conn:
        try:
            msg, fds, _, _ = socket.recv_fds(conn, _PID.size, 2)
        except OSError:
            return
        if len(fds) != 2 or len(msg) != _PID.size:
            for fd in fds:
                os.close(fd)
            return
        pid = os.fork()
        if pid == 0:
            _child(conn, server, fds, _PID.unpack(msg)[0])
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(_PID.pack(pid))


def _serve(listen_fd: int, imports: tuple[str, ...]) -> None:
    """The zygote's loop on the launcher's listening socket (clients queue on it
    meanwhile): preload, then fork a child per request until the launcher goes
    away (EOF on stdin)."""
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    server = socket.socket(fileno=listen_fd)
    if not _preload(imports):
        return
    while True:
        ready, _, _ = select.select([server, 0], [], [])
        if 0 in ready and not os.read(0, 1):
            return
        if server in ready:
            _fork_for_client(server)


# A zygote started by ``start_early`` and not yet handed to ``serve``.
_early: tuple[subprocess.Popen, str, str] | None = None
# The socket of the zygote ``serve`` runs.
_serving: str | None = None


def _start(imports: tuple[str, ...]) -> tuple[subprocess.Popen, str, str]:
    """A zygote process importing ``imports``; (process, socket path, its folder)."""
    folder = tempfile.mkdtemp(prefix="news-zygote-")
    address = os.path.join(folder, "socket")
    env = child_env()
    # Listen here, before the zygote exists: a client that comes early waits in
    # the queue instead of finding no socket.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(address)
        server.listen(64)
        proc = subprocess.Popen(
            [sys.executable, "-m", "transforms.sandbox.zygote", str(server.fileno()),
             repr(tuple(imports))],
            stdin=subprocess.PIPE, env=env, pass_fds=[server.fileno()])
    return proc, address, folder


def start_early(imports: tuple[str, ...]) -> None:
    """Start the zygote now (importing ``imports``), for ``serve`` to use later."""
    global _early
    if _early is None:
        _early = _start(imports)


def stop_early() -> None:
    """Stop a zygote ``start_early`` started that no ``serve`` took (an early exit)."""
    global _early
    started, _early = _early, None
    if started:
        _stop(*started)


def _stop(proc: subprocess.Popen, address: str, folder: str) -> None:
    with contextlib.suppress(OSError):
        proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(OSError):
        os.unlink(address)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def address() -> str | None:
    """The socket of the zygote this process is serving (``serve``), or None:
    what the stages hand their workers."""
    return _serving


@contextlib.contextmanager
def serve(preloads: list[tuple[str, tuple]]) -> Iterator[str | None]:
    """Run a zygote (the early one, if any) that calls each ``("module:function",
    args)`` of ``preloads``, and yield its socket path (also ``address()`` until
    the block ends). No preloads: no zygote (an early one is stopped), yields
    None. Children outlive the zygote until their clients close them."""
    global _early, _serving
    started, _early = _early, None
    if not preloads:
        if started:
            _stop(*started)
        yield None
        return
    proc, path, folder = started or _start(())
    proc.stdin.write(repr(list(preloads)).encode() + b"\n")
    proc.stdin.flush()
    previous, _serving = _serving, path
    try:
        yield path
    finally:
        _serving = previous
        _stop(proc, path, folder)

if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's: EOF ends us
    _serve(int(sys.argv[1]), ast.literal_eval(sys.argv[2]))
