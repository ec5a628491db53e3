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
