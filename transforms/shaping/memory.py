"""Give the free pages of the heap back to the system while a long bundle runs.

The local runner hands a worker its whole share of a stage as one bundle. Decoding
articles with their NLP rows, and encoding them again, frees as much as it allocates,
but glibc keeps the freed chunks: a worker's resident memory then grows with its share
of the input, although what it holds does not (at 2,800 articles, 240 of a worker's
380 MB of heap were free). ``HeapTrimmer`` returns those pages (``malloc_trim``) at
most every ``seconds``; ``trim_in_background`` does so from a thread of its own, for
the local runner's SDK workers, which also run the runner's small stages between ours.
Elsewhere than glibc they do nothing. Arrow's own allocator (mimalloc) keeps what it
frees too, out of ``malloc_trim``'s reach: ``arrow_on_system_heap`` puts a writing
process's Arrow buffers on glibc's heap instead.
"""
from __future__ import annotations

import ctypes
import threading
import time

TRIM_SECONDS = 1.0


def _malloc_trim():
    try:  # the process's own symbols: no search for the C library (``find_library``
        return ctypes.CDLL(None).malloc_trim  # runs a subprocess)
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _malloc_trim()


def release_free_heap() -> bool:
    """Return the heap's free pages to the system; whether any were (False without glibc)."""
    return bool(_TRIM(0)) if _TRIM is not None else False


class HeapTrimmer:
    """``tick()`` per unit of work releases the free heap if ``seconds`` have passed
    since it last did; ``now()`` releases it at once (the end of a bundle)."""

    def __init__(self, seconds: float = TRIM_SECONDS):
        self.seconds = seconds
        self._last = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self._last >= self.seconds:
            self.now()

    def now(self) -> None:
        release_free_heap()
        self._last = time.monotonic()


def trim_in_background(seconds: float = TRIM_SECONDS) -> threading.Thread | None:
    """Release the free heap every ``seconds`` from a daemon thread, for as long as the
    process lives (None without glibc)."""
    if _TRIM is None:
        return None

    def loop() -> None:
        while True:
            time.sleep(seconds)
            release_free_heap()
    thread = threading.Thread(target=loop, name="heap-trim", daemon=True)
    thread.start()
    return thread


def arrow_on_system_heap() -> None:
    """Allocate this process's Arrow buffers with glibc (``pa.system_memory_pool``), whose
    free pages ``release_free_heap`` returns (pyarrow is imported here, not before:
    child processes import this module without it)."""
    import pyarrow as pa

    if _TRIM is not None and pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
