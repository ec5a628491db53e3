"""Targets for tests/test_zygote.py, run in worker children (importable by name)."""
from __future__ import annotations

import os
import time

PRELOADED: list[str] = []


def preload(tag: str) -> None:
    """A zygote preload: what every forked child then has without doing it."""
    PRELOADED.append(tag)


def whoami() -> dict:
    return {"pid": os.getpid(), "parent": os.getppid(), "preloaded": list(PRELOADED)}


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


_KEPT: list[str] = []


def fragment_heap(megabytes: int) -> int:
    """Allocate ``megabytes`` of mid-sized strings and free all but every 50th (glibc
    keeps the pages between the survivors); returns the child's resident MB after."""
    held = ["y" * (2_000 + i % 6_000) for i in range(megabytes * 200)]
    _KEPT.extend(held[::50])
    del held
    time.sleep(1.1)  # past the child's trim interval
    return resident_mb()


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
