"""The child-process protocol shared by ``worker`` (the parent side) and ``zygote``.

Framing: length-prefixed pickles over a pair of pipes. Parent -> child:
``("setup", target, setup, setup_args)`` once, then ``("call", args, timeout)``.
Child -> parent: ``("ready", None)``, ``("item", x)`` per result of a generator
target, ``("done", value)``, or ``("error", (code, message, traceback))``.

Targets are named ``"module:function"`` (``resolve``); a child interpreter finds
the project through ``child_env``. ``serve_calls`` is the child's loop, run by a
new interpreter (``python -m transforms.sandbox.worker``) or by a zygote's fork; it
gives its free heap back to the system between calls (at most once a second).
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
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from transforms.shaping.memory import HeapTrimmer

_HEADER = struct.Struct("!Q")
# The project's root: what a child interpreter needs on its path.
ROOT = str(Path(__file__).resolve().parents[2])
# The child's own alarm: this many times the budget, plus a margin.
ALARM_FACTOR, ALARM_MARGIN = 2, 10
POLL_SECONDS = 1.0


def child_env() -> dict[str, str]:
    """This process's environment, with the project importable by a new interpreter."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))


def resolve(spec: str) -> Callable:
    """The function named by ``"module:function"``."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def write_message(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _wait_readable(fd: int, deadline: float, check: Callable[[], None] | None) -> None:
    """Block until ``fd`` has data; ``TimeoutError`` past ``deadline``; ``check()``
    every ``POLL_SECONDS`` meanwhile (it may raise)."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], min(remaining, POLL_SECONDS))
        if ready:
            return
        if check:
            check()


def _read_exact(fd: int, n: int, deadline: float | None, check=None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            _wait_readable(fd, deadline, check)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: float | None = None,
                 check: Callable[[], None] | None = None) -> Any:
    """The next message; ``EOFError`` when the other side closed its end,
    ``TimeoutError`` when ``deadline`` (``time.monotonic()``) passes first."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline, check))
    return pickle.loads(_read_exact(fd, size, deadline, check))


def error_payload(exc: BaseException) -> tuple[str, str, str]:
    """``(code, message, traceback)`` of an exception, as an ``"error"`` message carries."""
    return (getattr(exc, "code", None) or type(exc).__name__,
            str(exc) or type(exc).__name__, traceback.format_exc())


def _set_up(inp: int, out: int) -> Callable | None:
    """Read the setup message, run the setup; the target, or None (error sent)."""
    try:
        _, target, setup, setup_args = read_message(inp)
        if setup:
            resolve(setup)(*setup_args)
        function = resolve(target)
    except BaseException as exc:
        write_message(out, ("error", (type(exc).__name__, str(exc), traceback.format_exc())))
        return None
    write_message(out, ("ready", None))
    return function


def _answer(function: Callable, args: tuple, out: int, alarm: int) -> None:
    """Run one call and send its results; the alarm is re-armed per item."""
    result = function(*args)
    if inspect.isgenerator(result):
        for item in result:
            write_message(out, ("item", item))
            signal.alarm(alarm)
        result = None
    write_message(out, ("done", result))


def serve_calls() -> None:
    """The child's loop on fds 0 and 1: set up once, then answer calls until EOF.

    The child ends by itself when its parent goes away: on EOF while idle, and by
    SIGALRM (default action: terminate) when a call runs far past its budget."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's: EOF ends us
    inp, out = 0, os.dup(1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    function = _set_up(inp, out)
    if function is None:
        return
    trimmer = HeapTrimmer()  # a parse frees what it allocated; glibc would keep it
    while True:
        try:
            _, args, timeout = read_message(inp)
        except EOFError:  # the parent is done: skip the interpreter's teardown
            os._exit(0)
        alarm = int(math.ceil(timeout * ALARM_FACTOR + ALARM_MARGIN))
        signal.alarm(alarm)
        try:
            _answer(function, args, out, alarm)
        except Exception as exc:
            write_message(out, ("error", error_payload(exc)))
        finally:
            signal.alarm(0)
            trimmer.tick()
