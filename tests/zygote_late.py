"""A second zygote stage for tests/test_zygote.py: its preload waits at a gate file."""
from __future__ import annotations

import os
import time

from tests import zygote_targets

PRELOADED: list[str] = []


def preload(gate: str) -> None:
    """Return once ``gate`` exists (at most a minute): the slow model load of a stage."""
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    PRELOADED.append("late")


def whoami() -> dict:
    return {"pid": os.getpid(), "parent": os.getppid(),
            "preloaded": zygote_targets.PRELOADED + PRELOADED}
