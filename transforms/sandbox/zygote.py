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

Stages: each preload is a stage. The zygote runs the first, then forks the next
stage's zygote and serves; that one runs the second preload, and so on. A child
is forked by the first stage that preloaded its target's module (the stage of
``transforms.formats.page:warm_up`` forks the trafilatura children, which
then need not wait for the spaCy model to load), else by the last stage (every
preload done). A request that belongs further down is passed on there.

Protocol: a client connects to the Unix socket and sends its pid (8 bytes), the
length of its target's name (2 bytes) and the name, with two file descriptors,
the child's stdin and stdout. The stage that serves it forks; the child makes
them its fds 0 and 1, names itself ``news:<client pid>`` (so ``ps`` and the
benchmark know whose child it is) and runs ``protocol.serve_calls``. The zygote
answers with the child's pid (8 bytes). Children are reaped by the kernel
(SIGCHLD ignored); a child ends when its client closes its stdin, a stage when
the stage before it (the first: the launcher) goes away.
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
_REQUEST = struct.Struct("!qH")  # the client's pid, the length of its target's name
# How long a client waits for a fork, the zygote's preload included.
WAIT_SECONDS = 120.0


def spawn(address: str, stdin_fd: int, stdout_fd: int, target: str = "") -> int | None:
    """Fork a child that will run ``target`` from the zygote listening at
    ``address``, with these fds as its stdin and stdout; its pid, or None (no
    zygote there, or no answer)."""
    name = target.encode()[:2**16 - 1]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(WAIT_SECONDS)
            sock.connect(address)
            socket.send_fds(sock, [_REQUEST.pack(os.getpid(), len(name)) + name],
                            [stdin_fd, stdout_fd])
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


def name_process(name: str) -> None:
    """Set this process's name (``/proc/<pid>/comm``, 15 bytes) where Linux allows."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except Exception:  # noqa: BLE001 - only a label
        pass


def _child(conn: socket.socket, others: list[socket.socket], fds: list[int], owner: int) -> None:
    """In the forked child: take the fds, then serve calls like any worker child."""
    try:
        for sock in others:
            sock.close()
        conn.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        for fd in fds:
            os.close(fd)
        name_process(f"news:{owner}")
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


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock`` (EOFError if it closes first)."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the peer closed the connection")
        data += chunk
    return data


def _preloads(imports: tuple[str, ...]) -> list[tuple[str, tuple]]:
    """Import ``imports``, then read the preloads (one line on stdin); [] when the
    launcher sent none (it needs no zygote after all)."""
    import importlib

    for module in imports:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    line = _read_line(0)
    return ast.literal_eval(line.decode()) if line else []


def _run_preload(setup: str, args: tuple) -> None:
    try:
        resolve(setup)(*args)
    except Exception as exc:  # noqa: BLE001 - a child's own setup will report it
        print(f"zygote: preload {setup} failed: {exc!r}", file=sys.stderr)


def _freeze() -> None:
    import gc

    gc.collect()
    gc.freeze()  # keep the collector from touching (so copying) the shared pages


class _Stage:
    """One stage of the zygote: the preloads up to its own done; it forks the
    children of the targets it serves and passes other requests on."""

    def __init__(self, modules: list[str], index: int, inbox: socket.socket, listening: bool):
        self.modules, self.index = modules, index
        self.inbox, self.listening = inbox, listening  # the launcher's socket, or the stage before's
        self.next: socket.socket | None = None

    def stage_of(self, target: str) -> int:
        """The first stage that preloaded ``target``'s module, else the last."""
        module = target.partition(":")[0]
        return self.modules.index(module) if module in self.modules else len(self.modules) - 1

    def fork_next(self) -> "_Stage | None":
        """Fork the next stage; in it, that stage (self is gone), here None."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.fork() == 0:
            mine.close()
            self.inbox.close()
            return _Stage(self.modules, self.index + 1, theirs, listening=False)
        theirs.close()
        self.next = mine
        return None

    def receive(self) -> tuple[socket.socket, int, str, list[int]] | None:
        """The next request: (connection to the client, its pid, target, its fds)."""
        if self.listening:
            conn, _ = self.inbox.accept()
            want, sender = 2, conn
        else:
            want, sender = 3, self.inbox
        try:
            head, fds, _, _ = socket.recv_fds(sender, _REQUEST.size, want)
            if len(head) < _REQUEST.size:
                head += read_exactly(sender, _REQUEST.size - len(head))
            owner, size = _REQUEST.unpack(head)
            target = read_exactly(sender, size).decode(errors="replace")
        except (OSError, EOFError, struct.error):
            if self.listening:
                conn.close()
            else:
                raise EOFError("the stage before went away") from None
            return None
        if not self.listening:
            conn, fds = (socket.socket(fileno=fds[0]), fds[1:]) if fds else (None, [])
        if conn is None or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            if conn is not None:
                conn.close()
            return None
        return conn, owner, target, fds

    def handle(self, conn: socket.socket, owner: int, target: str, fds: list[int]) -> None:
        """Fork the child here, or pass the request on to the stage that serves it."""
        with conn:
            if self.stage_of(target) > self.index and self.next is not None:
                name = target.encode()
                with contextlib.suppress(OSError):
                    socket.send_fds(self.next, [_REQUEST.pack(owner, len(name)) + name],
                                    [conn.fileno(), *fds])
            else:
                pid = os.fork()
                if pid == 0:
                    _child(conn, [s for s in (self.inbox, self.next) if s is not None], fds, owner)
                with contextlib.suppress(OSError):
                    conn.sendall(_PID.pack(pid))
            for fd in fds:
                os.close(fd)

    def serve(self) -> None:
        """Answer requests until the launcher (stage 0: EOF on stdin) or the stage
        before goes away."""
        watched = [self.inbox, 0] if self.listening else [self.inbox]
        while True:
            ready, _, _ = select.select(watched, [], [])
            if 0 in ready and not os.read(0, 1):
                remove_socket(self.inbox)
                return
            if self.inbox in ready:
                try:
                    request = self.receive()
                except EOFError:
                    return
                if request is not None:
                    self.handle(*request)


def _serve(listen_fd: int, imports: tuple[str, ...]) -> None:
    """The zygote on the launcher's listening socket (clients queue on it
    meanwhile): preload stage by stage, then fork a child per request until the
    launcher goes away (EOF on stdin)."""
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    server = socket.socket(fileno=listen_fd)
    preloads = _preloads(imports)
    if not preloads:
        return
    stage = _Stage([setup.partition(":")[0] for setup, _ in preloads], 0, server, listening=True)
    while True:
        _run_preload(*preloads[stage.index])
        if stage.index == len(preloads) - 1:
            break
        later = stage.fork_next()
        if later is None:
            break
        stage = later
    _freeze()
    stage.serve()


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


def remove_socket(server: socket.socket) -> None:
    """Remove a listening socket's path and the folder made for it, as ``stop_server``
    does: a server whose launcher was killed ends on EOF and leaves neither behind."""
    with contextlib.suppress(OSError):
        path = server.getsockname()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (its parent) ends, where
    Linux allows (PR_SET_PDEATHSIG); end now if it already has."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - without it, the process ends as it would anyway
        pass
    if os.getppid() != parent:
        os._exit(1)


def release_in_fork() -> None:
    """In a fork of the launcher: let go of the early zygote's stdin, so that the
    launcher's close of it (``stop_server``) still reaches the zygote as EOF."""
    global _early
    started, _early = _early, None
    if started:
        with contextlib.suppress(OSError):
            started[0].stdin.close()  # nothing is buffered: serve has not written yet


def stop_early() -> None:
    """Stop a zygote ``start_early`` started that no ``serve`` took (an early exit)."""
    global _early
    started, _early = _early, None
    if started:
        stop_server(*started)


def stop_server(proc: subprocess.Popen, address: str, folder: str) -> None:
    """End a server process started with a socket in a folder of its own: EOF on its
    stdin, then SIGKILL after 5 s; the socket and the folder removed."""
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
            stop_server(*started)
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
        stop_server(proc, path, folder)

if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's: EOF ends us
    _serve(int(sys.argv[1]), ast.literal_eval(sys.argv[2]))
