"""Give the free pages of the heap back to the system while a long bundle runs.

The local runner hands a worker its whole share of a stage as one bundle. Decoding
articles with their NLP rows, and encoding them again, frees as much as it allocates,
but glibc keeps the freed chunks: a worker's resident memory then grows with its share
of the input, although what it holds does not (at 2,800 articles, 240 of a worker's
380 MB of heap were free). ``HeapTrimmer`` returns those pages (``malloc_trim``) at
most every ``seconds``; ``trim_in_background`` does so from a thread of its own, for
the local runner's SDK workers, which also run the runner's small stages between ours.
Elsewhere than glibc they do nothing.

More keep a process's memory from growing with its input:
- ``return_large_blocks`` fixes glibc's mmap threshold. By default it rises to the
  largest block freed (up to 32 MB), and later blocks of that size stay on the heap,
  where they fragment it.
- ``few_arenas`` caps glibc's heaps at ``ARENAS``: each heap keeps free memory of
  its own, and a worker's threads would each get one.
- Arrow's own allocator (mimalloc) keeps what it frees, out of ``malloc_trim``'s reach.
  ``ARROW_POOL_VARIABLE`` sets Arrow's C++ default pool, which the Parquet writer's
  encoders use; Arrow reads it once, when pyarrow is imported, so
  ``prefer_returning_allocators`` sets it first thing (``pipeline/__init__.py``).
  ``arrow_on_system_heap`` moves pyarrow's own buffers where pyarrow came first
  (a remote runner's worker imports it before our code).
- Beam's SDK worker keeps each stage's bundle processor for the next bundle, and with
  it the buffer each of its outputs to the runner grew to (flushed past 10 MB, its
  capacity doubling to 16 MB, never shrunk): a worker that ran the local runner's
  stages, each bundle its whole share of the input, held about 10 MB of them at
  1,400 articles and 20 to 30 MB at 2,800.
  ``release_output_buffers`` lets a finished bundle's output buffers go, and has
  them sent every ``FLUSH_BYTES`` meanwhile (called in ``CleanFn.setup``, so in every
  worker that runs the pipeline, in-process ones too).
- The local runner sends a worker a stage's input as one message (a grouped input as
  one string), which the worker holds while the bundle runs. ``send_inputs_in_parts``
  (set by ``pipeline/run.py`` for it) sends it in parts of ``FLUSH_BYTES``.
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

TRIM_SECONDS = 1.0
MMAP_THRESHOLD = 256 << 10  # bytes: larger blocks are mapped apart, unmapped when freed
FLUSH_BYTES = 1 << 20  # a worker's output to the runner is sent in parts of this size
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
ARENAS = 2  # glibc heaps per process (glibc: up to 8 per core)
ARENAS_VARIABLE = "MALLOC_ARENA_MAX"
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # mallopt's parameter numbers (malloc.h)


def _libc_function(name: str):
    try:  # the process's own symbols: no search for the C library (``find_library``
        return getattr(ctypes.CDLL(None), name)  # runs a subprocess)
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _libc_function("malloc_trim")
_MALLOPT = _libc_function("mallopt")
_PATCH_LOCK = threading.Lock()


def return_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Map blocks of ``threshold`` bytes or more apart, so that freeing one unmaps it
    (a fixed threshold: glibc's rising one is off); whether it was set."""
    return bool(_MALLOPT(_M_MMAP_THRESHOLD, threshold)) if _MALLOPT is not None else False


def few_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` glibc heaps in this process (unless ``ARENAS_VARIABLE`` is
    set) and in the processes it starts; whether it was set. glibc gives each new
    thread a heap of its own, up to 8 per core, and each keeps its own free memory:
    an SDK worker's bundle and gRPC threads spread its garbage over many. Heaps made
    before the call stay (a remote runner's worker sets it from ``CleanFn.setup``)."""
    if _MALLOPT is None or ARENAS_VARIABLE in os.environ:
        return False
    os.environ[ARENAS_VARIABLE] = str(arenas)
    return bool(_MALLOPT(_M_ARENA_MAX, arenas))


def prefer_returning_allocators() -> None:
    """Allocators that give back what they free, for a process that has not imported
    pyarrow yet: Arrow's C++ default pool on glibc (unless ``ARROW_POOL_VARIABLE`` is
    set already), ``return_large_blocks`` and ``few_arenas``. Forked children inherit
    all three, started ones the variables."""
    if _TRIM is not None:
        os.environ.setdefault(ARROW_POOL_VARIABLE, "system")
    return_large_blocks()
    few_arenas()


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


def release_output_buffers(flush_bytes: int = FLUSH_BYTES) -> bool:
    """Bound Beam's SDK worker's output buffers: each output of a bundle is sent to
    the runner every ``flush_bytes`` (Beam: 10 MB), and its buffer freed once the
    bundle has sent it (``DataOutputOperation.finish``; the next bundle sets a new
    one); whether the worker is one this applies to. Idempotent, per process."""
    try:
        from apache_beam.runners.worker.bundle_processor import DataOutputOperation
    except ImportError:
        return False
    with _PATCH_LOCK:  # DoFn setups may run in several threads at once
        finish = DataOutputOperation.finish
        if getattr(finish, "releases_buffer", False):
            return True
        set_stream = getattr(DataOutputOperation, "set_output_stream", None)
        if set_stream is None:  # another SDK's layout
            return False

        def finish_and_release(self) -> None:
            finish(self)
            self.output_stream = None  # its buffer, sized to the bundle's output, goes too

        def set_bounded_stream(self, output_stream) -> None:
            if getattr(output_stream, "_size_flush_threshold", 0) > flush_bytes:
                output_stream._size_flush_threshold = flush_bytes
            set_stream(self, output_stream)
        finish_and_release.releases_buffer = True
        DataOutputOperation.finish = finish_and_release
        DataOutputOperation.set_output_stream = set_bounded_stream
        return True


def split_encoded(data: bytes, coder_impl, part_bytes: int) -> list[bytes]:
    """Encoded elements -> the same bytes in parts of about ``part_bytes``, cut
    between elements (``coder_impl`` decodes one nested element at a time)."""
    from apache_beam.coders.coder_impl import create_InputStream

    if len(data) <= part_bytes:
        return [data]
    stream, parts, start = create_InputStream(data), [], 0
    while stream.size() > 0:
        coder_impl.decode_from_stream(stream, True)
        end = len(data) - stream.size()
        if end - start >= part_bytes:
            parts.append(data[start:end])
            start = end
    if start < len(data):
        parts.append(data[start:])
    return parts


def send_inputs_in_parts(part_bytes: int = FLUSH_BYTES) -> bool:
    """Have the local runner (``FnApiRunner``) send a worker each stage's input in
    messages of about ``part_bytes``; whether this Beam is one it applies to.
    Beam writes a worker's whole share of a stage into one message, a grouped one as
    one string, and the worker holds it while the bundle runs. Idempotent."""
    try:
        from apache_beam.runners.portability.fn_api_runner import execution, fn_runner
    except ImportError:
        return False
    grouping, manager = execution.GroupingBuffer, fn_runner.BundleManager
    with _PATCH_LOCK:
        partition = grouping.partition
        if getattr(partition, "in_parts", False):
            return True
        if not hasattr(manager, "_send_input_to_worker"):  # another runner's layout
            return False

        def partition_in_parts(self, n: int) -> list[list[bytes]]:
            fresh = not self._grouped_output
            out = partition(self, n)
            coder = getattr(self, "_post_grouped_coder", None)
            if fresh and coder is not None:
                impl = coder.get_impl()
                out = [[p for data in part for p in split_encoded(data, impl, part_bytes)]
                       for part in out]
                self._grouped_output = out
            return out

        def send_in_parts(self, process_bundle_id, read_transform_id, byte_streams) -> None:
            data_out = self._worker_handler.data_conn.output_stream(
                process_bundle_id, read_transform_id)
            if getattr(data_out, "_size_flush_threshold", 0) > part_bytes:
                data_out._size_flush_threshold = part_bytes
            flush = getattr(data_out, "maybe_flush", lambda: None)
            for byte_stream in (byte_streams or []):
                data_out.write(byte_stream)
                flush()
            data_out.close()
        partition_in_parts.in_parts = True
        grouping.partition = partition_in_parts
        manager._send_input_to_worker = send_in_parts
        return True


def arrow_on_system_heap() -> None:
    """Allocate pyarrow's buffers with glibc (``pa.system_memory_pool``), whose free
    pages ``release_free_heap`` returns. Arrow's C++ code keeps the pool it chose at
    import (``prefer_returning_allocators``). pyarrow is imported here, not before:
    child processes import this module without it."""
    import pyarrow as pa

    if _TRIM is not None and pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
