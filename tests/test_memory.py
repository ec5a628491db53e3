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
import io, sys
import pyarrow as pa
from transforms.shaping.memory import arrow_on_system_heap, release_free_heap
import transforms.write as write

try:
    pa.set_memory_pool(pa.mimalloc_memory_pool())  # pyarrow's default on Linux wheels
except NotImplementedError:
    print("none 0")
    sys.exit(0)
if sys.argv[1] == "control":
    write.arrow_on_system_heap = lambda: None
sink = write.ParquetFileSink(pa.schema([("id", pa.string()), ("text", pa.string())]))
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
print(pa.default_memory_pool().backend_name, rss() - base)
"""


def test_the_sink_puts_arrow_on_the_heap_that_is_given_back():
    """Three files of 2,500 long rows: with Arrow's mimalloc the freed buffers stay
    resident; on glibc's heap, trimmed, most of them go back."""
    import subprocess
    import sys

    def grown(mode: str) -> tuple[str, float]:
        out = subprocess.run([sys.executable, "-c", _WRITE_AND_FREE, mode], check=True,
                             capture_output=True, text=True, cwd=_ROOT).stdout
        backend, mb = out.split()
        return backend, float(mb)
    control, sink = grown("control"), grown("sink")
    if control[0] == "none":
        pytest.skip("this pyarrow has no mimalloc: its default pool is not the one at issue")
    assert control[0] == "mimalloc" and sink[0] == "system"
    assert control[1] - sink[1] > 25, (control, sink)  # 48-64 MB here
