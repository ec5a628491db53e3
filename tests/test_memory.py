"""Bounded memory: Parquet row groups by rows and bytes, the heap given back, NLP
rows packed while they travel through deduplication."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import duckdb
import pytest
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.coders import FastPrimitivesCoder

from schemas.layout import ARTICLES
from transforms.annotate import pack_annotations, unpack_annotations
from transforms.shaping.memory import HeapTrimmer, release_free_heap, trim_in_background
from transforms.write import ParquetFileSink

_ROOT = str(Path(__file__).resolve().parents[1])


SCHEMA = pa.schema([pa.field("article_id", pa.string(), nullable=False),
                    pa.field("source", pa.string()), pa.field("text", pa.string())])


def _article(i: int, text_chars: int) -> dict:
    return {"article_id": f"a{i}", "source": f"{i:05d}.html", "text": f"Word{i} " * (text_chars // 6)}


def _write(sink: ParquetFileSink, rows: list[dict], path) -> None:
    with open(path, "wb") as fh:
        sink.open(fh)
        for row in rows:
            sink.write((ARTICLES, row))
        sink.flush()


def test_row_groups_are_cut_by_bytes_when_rows_are_long(tmp_path):
    """Long articles: a row group once ~1 MB of Arrow data is buffered, not at 10,000 rows."""
    path = tmp_path / "long.parquet"
    rows = [_article(i, 20_000) for i in range(300)]
    _write(ParquetFileSink(SCHEMA, batch_rows=50, group_bytes=1 << 20), rows, path)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 300 and meta.num_row_groups >= 5
    assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= 100
    got = duckdb.sql(f"SELECT article_id, length(text) AS n FROM '{path}' ORDER BY source").fetchall()
    assert sorted(got) == sorted((r["article_id"], len(r["text"])) for r in rows)


def test_long_rows_become_arrow_batches_by_bytes_before_batch_rows(tmp_path):
    """300 rows of 20,000 characters never reach 1,000 rows: they become record batches
    every ~256 kB of strings, so row groups still stay near 1 MB."""
    path = tmp_path / "long.parquet"
    rows = [_article(i, 20_000) for i in range(300)]
    _write(ParquetFileSink(SCHEMA, batch_bytes=256 << 10, group_bytes=1 << 20), rows, path)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sum(sizes) == 300 and max(sizes) <= 70, sizes
    got = duckdb.sql(f"SELECT article_id, length(text) AS n FROM '{path}'").fetchall()
    assert sorted(got) == sorted((r["article_id"], len(r["text"])) for r in rows)


def test_the_sinks_of_one_bundle_share_one_budget(tmp_path):
    """Two tables' sinks open in one thread: each alone stays under ``group_bytes``
    (one row group), together they pass it, so row groups are written early."""
    def sink() -> ParquetFileSink:
        return ParquetFileSink(SCHEMA, batch_bytes=128 << 10, group_bytes=1 << 20)

    tables = {name: [_article(i, 20_000) | {"source": name} for i in range(40)] for name in "ab"}
    _write(sink(), tables["a"], tmp_path / "alone.parquet")
    assert pq.ParquetFile(tmp_path / "alone.parquet").metadata.num_row_groups == 1
    paths = {name: tmp_path / f"{name}.parquet" for name in tables}
    handles = {name: open(path, "wb") for name, path in paths.items()}
    sinks = {name: sink() for name in tables}
    for name, s in sinks.items():
        s.open(handles[name])
    for a, b in zip(tables["a"], tables["b"]):
        sinks["a"].write((ARTICLES, a))
        sinks["b"].write((ARTICLES, b))
    for name, s in sinks.items():
        s.flush()
        handles[name].close()
    groups = [pq.ParquetFile(path).metadata.num_row_groups for path in paths.values()]
    assert sum(groups) >= 3 and max(groups) >= 2, groups
    got = duckdb.sql(f"SELECT source, count(*), sum(length(text)) FROM read_parquet("
                     f"['{paths['a']}', '{paths['b']}']) GROUP BY source ORDER BY source").fetchall()
    assert got == [(n, 40, sum(len(r["text"]) for r in tables[n])) for n in "ab"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # dropped writers
def test_the_sinks_of_a_failed_bundle_leave_the_budget(tmp_path):
    """A row that fails its table's schema fails the bundle; the retry's sinks (same
    thread) never write into the failed ones' abandoned files."""
    def sink() -> ParquetFileSink:
        return ParquetFileSink(SCHEMA, batch_bytes=128 << 10, group_bytes=1 << 20)

    handles = [open(tmp_path / f"failed{n}.parquet", "wb") for n in range(2)]
    failed = [sink(), sink()]
    for s, fh in zip(failed, handles):
        s.open(fh)
    for i in range(40):  # ~800 kB of Arrow batches, under the budget
        failed[1].write((ARTICLES, _article(i, 20_000)))
    with pytest.raises(Exception):
        for i in range(2_000):
            failed[0].write((ARTICLES, _article(i, 12) | {"source": i}))  # not a string
    for fh in handles:  # the runner drops the failed attempt's files
        fh.close()
    path = tmp_path / "retry.parquet"
    rows = [_article(i, 20_000) for i in range(40)]
    _write(sink(), rows, path)
    assert pq.ParquetFile(path).metadata.num_rows == 40
    del failed


def test_row_groups_are_cut_by_rows_when_rows_are_short(tmp_path):
    path = tmp_path / "short.parquet"
    rows = [_article(i, 12) for i in range(2_500)]
    _write(ParquetFileSink(SCHEMA, batch_rows=100, group_rows=1_000), rows, path)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [1_000, 1_000, 500]
    assert duckdb.sql(f"SELECT count(DISTINCT article_id) FROM '{path}'").fetchall()[0][0] == 2_500


def test_freed_heap_is_given_back():
    """Mid-sized strings come from glibc's heap; once freed, their pages go back."""
    held = [io.StringIO().getvalue() + "x" * (1_000 + i % 7_000) for i in range(40_000)]
    del held
    assert release_free_heap()
    trimmer = HeapTrimmer(seconds=3600)
    trimmer.tick()  # within its interval: nothing to do, and no error
    trimmer.now()


def test_packed_rows_round_trip_and_travel_smaller():
    rows = {"mentions": [{"article_id": "a1", "entity_id": f"e{i % 40}", "start": i * 9,
                          "end": i * 9 + 6, "text": f"Name {i % 40}", "label": "PERSON"}
                         for i in range(400)],
            "quotes": [], "_errors": [], "us": {"quotes": 12}}
    packed = pack_annotations(rows)
    assert unpack_annotations(packed) == rows
    assert len(packed) * 3 < len(FastPrimitivesCoder().encode(rows))
    assert unpack_annotations({"copy": True}) == {"copy": True} and unpack_annotations(None) is None


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_background_trimmer_gives_the_freed_heap_back():
    """200 MB of mid-sized strings freed but every 50th: glibc keeps the pages between
    the survivors until a trim, which the background thread does within a second."""
    trimmer = trim_in_background(0.1)
    assert trimmer is not None and trimmer.daemon and trimmer.is_alive()
    held = [io.StringIO().getvalue() + "y" * (2_000 + i % 6_000) for i in range(40_000)]
    survivors = held[::50]
    before = _rss_mb()
    del held
    deadline = time.monotonic() + 5
    while _rss_mb() > before - 100 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _rss_mb() < before - 100, (before, _rss_mb())
    assert survivors



def test_a_sandbox_child_gives_its_freed_heap_back_between_calls():
    """A call frees most of 200 MB it allocated; once it has answered, the child gives
    the pages back (the spaCy child parses batch after batch)."""
    from transforms.sandbox.worker import Worker, rss_mb

    worker = Worker("tests.zygote_targets:fragment_heap", what="test call")
    try:
        during = worker.call(200, timeout=60)  # measured inside the call: not trimmed yet
        deadline = time.monotonic() + 5
        while rss_mb(worker.proc.pid) > during - 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = rss_mb(worker.proc.pid)
        assert worker.proc.poll() is None  # alive: a dead child's memory reads 0
    finally:
        worker.close()
    assert during - after > 100, (during, after)


_WRITE_AND_FREE = """
import io, os, sys
if sys.argv[1] == "pipeline":  # as ``python -m pipeline`` starts
    import pipeline
import pyarrow as pa
from transforms.shaping.memory import release_free_heap
import transforms.write as write

try:
    pa.mimalloc_memory_pool()
except NotImplementedError:
    print("none none 0 0 0")
    sys.exit(0)
if sys.argv[1] == "pyarrow-only":  # mimalloc for Arrow's C++ code, pyarrow's moved
    pa.set_memory_pool(pa.mimalloc_memory_pool())
elif sys.argv[1] == "control":
    write.arrow_on_system_heap = lambda: None
sink = write.ParquetFileSink(pa.schema([("id", pa.string()), ("text", pa.string())]),
                             group_bytes=32 << 20, batch_bytes=8 << 20)  # a write holding a lot
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
base = rss()
for _ in range(3):
    sink.open(io.BytesIO())
    for i in range(2_500):
        sink.write(("t", {"id": str(i), "text": ("word %d " % i) * 1_200}))
    sink.flush()
release_free_heap()
print(os.environ.get("ARROW_DEFAULT_MEMORY_POOL"), pa.default_memory_pool().backend_name,
      rss() - base, pa.mimalloc_memory_pool().max_memory() / 2**20,
      pa.system_memory_pool().max_memory() / 2**20)
"""


def _grown_after_writing(mode: str, arrow_pool: str | None) -> tuple[str, str, float, float, float]:
    """(the Arrow pool variable, pyarrow's pool, MB still resident, peak MB in mimalloc,
    peak MB in glibc's pool) after three files of 2,500 long rows, in a fresh process
    (``mode``: see ``_WRITE_AND_FREE``)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if arrow_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = arrow_pool
    out = subprocess.run([sys.executable, "-c", _WRITE_AND_FREE, mode], check=True, env=env,
                         capture_output=True, text=True, cwd=_ROOT).stdout
    variable, backend, *mb = out.split()
    if backend == "none":
        pytest.skip("this pyarrow has no mimalloc: its default pool is not the one at issue")
    return (variable, backend, *map(float, mb))


def test_the_pipeline_puts_arrow_on_the_heap_that_is_given_back():
    """``import pipeline`` first, as ``python -m pipeline`` does: Arrow's C++ code
    (the Parquet writer's encoders) allocates from glibc too, and the writes' buffers
    go back; with mimalloc throughout they stay resident. A user's own choice of pool
    stands."""
    variable, backend, ours, in_mimalloc, _ = _grown_after_writing("pipeline", None)
    assert (variable, backend, in_mimalloc) == ("system", "system", 0)
    _, _, mimalloc, _, _ = _grown_after_writing("control", "mimalloc")
    assert ours < 20 and mimalloc - ours > 40, (ours, mimalloc)  # 5 and 100-143 MB here
    chosen, _, _, in_mimalloc, _ = _grown_after_writing("pipeline", "mimalloc")
    assert chosen == "mimalloc" and in_mimalloc > 20, in_mimalloc


def test_the_sink_moves_pyarrows_buffers_where_arrow_chose_its_pool_first():
    """A remote runner's worker imports pyarrow before our code, with mimalloc: the
    sink still moves pyarrow's own buffers (the record batches, most of what a write
    holds) to glibc's heap; the Parquet encoders' stay in mimalloc."""
    _, control_backend, _, control_mimalloc, control_system = \
        _grown_after_writing("control", "mimalloc")
    _, backend, _, mimalloc, system = _grown_after_writing("pyarrow-only", "mimalloc")
    assert control_backend == "mimalloc" and backend == "system"
    assert control_system == 0 and system > 10, (control_system, system)
    assert control_mimalloc - mimalloc > 10, (control_mimalloc, mimalloc)


_BLOCKS = """
import ctypes, sys
from transforms.shaping.memory import return_large_blocks

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
if not hasattr(libc, "mallinfo2"):
    print("none"); sys.exit(0)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert return_large_blocks()
libc.free(libc.malloc(8 << 20))  # glibc's own threshold rises to 8 MB here
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before >= 1 << 20)
libc.free(block)
"""


def test_large_blocks_stay_mapped_apart_after_a_larger_one_is_freed():
    """glibc's threshold rises to the largest block freed, so later blocks of 1 MB
    land on the heap, among small ones; ``return_large_blocks`` keeps them apart."""
    import subprocess
    import sys

    def mapped(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", _BLOCKS, mode], check=True, cwd=_ROOT,
                              capture_output=True, text=True).stdout.strip()
    dynamic, fixed = mapped("dynamic"), mapped("fixed")
    if dynamic == "none":
        pytest.skip("not glibc")
    assert (dynamic, fixed) == ("False", "True")


def test_encoded_elements_are_cut_between_elements():
    from apache_beam.coders import FastPrimitivesCoder

    from transforms.shaping.memory import split_encoded

    impl = FastPrimitivesCoder().get_impl()
    values = [("k%d" % i, "x" * (1_000 + i)) for i in range(600)]
    data = b"".join(impl.encode_nested(v) for v in values)
    parts = split_encoded(data, impl, 64 << 10)
    assert b"".join(parts) == data and len(parts) >= 9
    assert all(len(p) < (64 << 10) + 2_000 for p in parts)
    from apache_beam.coders.coder_impl import create_InputStream

    got = []
    for p in parts:  # every part decodes on its own: no element is split
        stream = create_InputStream(p)
        while stream.size() > 0:
            got.append(impl.decode_from_stream(stream, True))
    assert got == values
    assert split_encoded(b"abc", impl, 64 << 10) == [b"abc"]


def test_the_local_runner_groups_the_same_when_it_sends_inputs_in_parts():
    """A grouped input of 3 MB reaches the worker in parts; every group is whole."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.testing.util import assert_that, equal_to

    from transforms.shaping.memory import send_inputs_in_parts

    assert send_inputs_in_parts()
    rows = [(f"k{i % 300}", f"{i}-" + "v" * 10_000) for i in range(300 * 3)]
    expected = [(f"k{k}", sorted(v for key, v in rows if key == f"k{k}")) for k in range(300)]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        grouped = (p | beam.Create(rows) | beam.GroupByKey()
                   | beam.MapTuple(lambda k, vs: (k, sorted(vs))))
        assert_that(grouped, equal_to(expected))


_ARENAS = """
import ctypes, sys, threading
from transforms.shaping.memory import few_arenas
if sys.argv[1] == "few":
    assert few_arenas()
start, done = threading.Barrier(8), threading.Barrier(8)
def work():
    start.wait()
    held = [bytes(50_000 + i) for i in range(20)]
    done.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # a block per glibc heap ("Arena N:"), to stderr
"""


def test_eight_threads_share_two_glibc_heaps():
    """Eight threads that allocate at once get a heap each from glibc; with
    ``few_arenas`` they share ``ARENAS``, and a started child is told so too."""
    import subprocess
    import sys

    from transforms.shaping.memory import ARENAS, ARENAS_VARIABLE

    env = {k: v for k, v in os.environ.items() if k != ARENAS_VARIABLE}

    def arenas(mode: str) -> int:
        err = subprocess.run([sys.executable, "-c", _ARENAS, mode], check=True, cwd=_ROOT,
                             env=env, capture_output=True, text=True).stderr
        return sum(line.startswith("Arena ") for line in err.splitlines())
    control = arenas("control")
    if control == 0:
        pytest.skip("not glibc")
    assert control > ARENAS and arenas("few") == ARENAS
    child = f"import os; print(os.environ.get('{ARENAS_VARIABLE}'))"
    told = subprocess.run(  # a process started by one that imported ``pipeline``
        [sys.executable, "-c", "import subprocess, sys, pipeline; "
         f"subprocess.run([sys.executable, '-c', {child!r}], check=True)"],
        check=True, cwd=_ROOT, env=env, capture_output=True, text=True).stdout.strip()
    assert told == str(ARENAS)


_OUTPUT_BUFFER = """
import gc, hashlib, sys, weakref
from apache_beam.coders import BytesCoder, WindowedValueCoder
from apache_beam.runners.common import NameContext
from apache_beam.runners.worker import bundle_processor, data_plane, statesampler
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.counters import CounterFactory
from apache_beam.utils.windowed_value import WindowedValue
from transforms.shaping.memory import release_output_buffers

if sys.argv[1] == "released":
    assert release_output_buffers()
    finish = bundle_processor.DataOutputOperation.finish
    assert release_output_buffers() and bundle_processor.DataOutputOperation.finish is finish
factory = CounterFactory()
op = bundle_processor.DataOutputOperation(
    NameContext("out"), None, {}, factory, statesampler.StateSampler("", factory),
    WindowedValueCoder(BytesCoder()), "out", None)
sent = []
stream = data_plane.SizeBasedBufferingClosableOutputStream(close_callback=sent.append,
                                                           flush_callback=sent.append)
op.set_output_stream(stream)
alive = weakref.ref(stream)
del stream
op.start()
for i in range(300):
    op.process(WindowedValue(bytes([i % 256]) * 10_000, 0, [GlobalWindow()]))
op.finish()
gc.collect()
print(hashlib.sha256(b"".join(sent)).hexdigest(), sum(map(len, sent)), int(alive() is not None),
      len(sent), max(map(len, sent)))
"""


def test_a_worker_sends_its_output_in_parts_and_lets_the_buffer_go():
    """Beam's SDK worker keeps a stage's operations for its next bundle, and each
    output operation its stream, whose buffer grew to the bundle's whole output (sent
    past 10 MB, up to 16 MB). With ``release_output_buffers`` the output is sent every
    ``FLUSH_BYTES`` and the stream goes once the bundle sent it; what the runner
    received is the same."""
    import subprocess
    import sys

    from transforms.shaping.memory import FLUSH_BYTES

    def run(mode: str) -> tuple[str, int, bool, int, int]:
        digest, size, alive, parts, largest = subprocess.run(
            [sys.executable, "-c", _OUTPUT_BUFFER, mode], check=True, cwd=_ROOT,
            capture_output=True, text=True).stdout.split()
        return digest, int(size), alive == "1", int(parts), int(largest)
    sent_control, size, held_control, parts_control, _ = run("control")
    sent, _, held, parts, largest = run("released")
    assert sent == sent_control and size > 3_000_000
    assert held_control and not held  # the control keeps its 3 MB stream
    assert parts_control == 1 and parts >= 3 and largest <= FLUSH_BYTES + 20_000
