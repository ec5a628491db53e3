"""Streaming watch mode: windowed Parquet writes (TestStream) and files dropped into
a watched directory on Prism while the job runs."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_stream
from apache_beam.transforms.window import FixedWindows, TimestampedValue

from pipeline.streaming import DeduplicateAcrossWindows, is_hidden
from tests.conftest import REPO, SAMPLES, read_table
from tests.runner_env import kill_group
from transforms.write import WindowedFiles, WriteTables

PARTITION = "ingest_date=2026-03-20"
# <run>-<window start>-<window end>-SSSSS-of-NNNNN.parquet
WINDOW_FILE = re.compile(
    r"^(?P<run>.+)-(?P<start>\d{8}T\d{6}Z)-(?P<end>\d{8}T\d{6}Z)-\d{5}-of-\d{5}\.parquet$")


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _window_files(out: Path, table: str) -> dict[str, list[dict]]:
    """``window start -> rows`` of a table's windowed files (one file per window)."""
    found = {}
    for path in sorted((out / table).glob("**/*.parquet")):
        match = WINDOW_FILE.match(path.name)
        assert match and path.parent.name == PARTITION, path
        assert match["start"] not in found, f"two files for one window: {path}"
        found[match["start"]] = _rows(path)
    return found


def _run_test_stream(stream: test_stream.TestStream, expand) -> None:
    """A TestStream pipeline on Beam's in-process streaming runner (BundleBasedDirectRunner)."""
    options = PipelineOptions(["--streaming"])
    with beam.Pipeline(runner="BundleBasedDirectRunner", options=options) as p:
        expand(p | stream | beam.WindowInto(FixedWindows(10)))


def test_windowed_write_gives_one_complete_file_per_window_and_table(tmp_path: Path):
    def error(source: str) -> dict:
        return {"source": source, "stage": "read", "error": "BadRecord", "message": "bad"}

    def duplicate(source: str) -> dict:
        return {"source": source, "content_hash": "h", "duplicate_of": "a",
                "duplicate_of_source": "a.html"}

    stream = (test_stream.TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(("errors", error(s)), 1) for s in ("e1", "e2")]
                            + [TimestampedValue(("duplicates", duplicate("d1")), 9)])
              .advance_watermark_to(10)  # closes window [0, 10)
              .add_elements([TimestampedValue(("errors", error("e3")), 12)])
              .advance_watermark_to_infinity())
    windowed = WindowedFiles(PARTITION, "run1", str(tmp_path / "_streaming" / "run1"))

    def expand(tagged):
        tables = {name: tagged | f"Only {name}" >> beam.Filter(lambda t, n=name: t[0] == n)
                  | f"Row {name}" >> beam.Map(lambda t: t[1]) for name in ("errors", "duplicates")}
        tables | WriteTables(str(tmp_path), None, windowed)

    _run_test_stream(stream, expand)
    errors = _window_files(tmp_path, "errors")
    assert {w: sorted(r["source"] for r in rows) for w, rows in errors.items()} == {
        "19700101T000000Z": ["e1", "e2"], "19700101T000010Z": ["e3"]}
    duplicates = _window_files(tmp_path, "duplicates")  # no rows in window 2: no file
    assert {w: [r["source"] for r in rows] for w, rows in duplicates.items()} == {
        "19700101T000000Z": ["d1"]}
    assert all(r["ingested_at"] is not None for rows in errors.values() for r in rows)
    assert pq.read_schema(next((tmp_path / "errors").glob("**/*.parquet"))).metadata[
        b"table"] == b"errors"
    # Temporary files live outside the table folders and were all moved out.
    assert not [p for p in (tmp_path / "_streaming").rglob("*") if p.is_file()]


def test_dedupe_keeps_the_first_copy_across_windows(tmp_path: Path):
    def article(source: str, text_hash: str, article_id: str) -> dict:
        return {"source": source, "content_hash": text_hash, "article_id": article_id,
                "input_format": "html", "text": "t", "word_count": 1}

    stream = (test_stream.TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(article("b.html", "X", "id-b"), 1),
                             TimestampedValue(article("a.html", "X", "id-a"), 2)])
              .advance_watermark_to(10)
              # A later copy whose name sorts first, and a new article.
              .add_elements([TimestampedValue(article("0.html", "X", "id-0"), 11),
                             TimestampedValue(article("y.html", "Y", "id-y"), 12)])
              .advance_watermark_to_infinity())
    windowed = WindowedFiles(PARTITION, "run1", str(tmp_path / "_streaming" / "run1"))

    def expand(articles):
        unique = articles | DeduplicateAcrossWindows(10)
        {"articles": unique["articles"], "duplicates": unique["duplicates"]} | WriteTables(
            str(tmp_path), None, windowed)

    _run_test_stream(stream, expand)
    articles = _window_files(tmp_path, "articles")
    assert {w: [r["source"] for r in rows] for w, rows in articles.items()} == {
        "19700101T000000Z": ["a.html"], "19700101T000010Z": ["y.html"]}
    duplicates = _window_files(tmp_path, "duplicates")
    assert {w: [(r["source"], r["duplicate_of"], r["duplicate_of_source"]) for r in rows]
            for w, rows in duplicates.items()} == {
        "19700101T000000Z": [("b.html", "id-a", "a.html")],
        "19700101T000010Z": [("0.html", "id-a", "a.html")]}


def test_hidden_names_are_not_picked_up():
    assert is_hidden("/in/.page.html.tmp") and is_hidden("gs://b/in/_SUCCESS")
    assert not is_hidden("/in/.cache/page.html") and not is_hidden("/in/page.html")


# --- end to end on real streaming runners -------------------------------------------------

HTML = sorted((SAMPLES / "html").glob("*.html"))


@pytest.fixture(scope="module", params=["prism", "flink"])
def runner(request) -> Iterator[tuple[str, list[str]]]:
    """(name, pipeline args) of Prism, and of the Flink session cluster (LOOPBACK workers)."""
    from tests.runner_env import flink_args, flink_cluster, prism_args

    if request.param == "prism":
        yield "prism", prism_args()
    else:
        with flink_cluster():
            yield "flink", flink_args("loopback")


class _Watcher(threading.Thread):
    """Lists the table folders every 0.2 s and reads every Parquet file it sees."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.stop = out, threading.Event()
        self.seen: dict[Path, int] = {}  # path -> rows
        self.unreadable: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for path in self.out.glob("[!_]*/**/*.parquet"):
                if path not in self.seen:
                    try:
                        self.seen[path] = pq.read_table(path).num_rows
                    except Exception as exc:  # a partial file would land here
                        self.unreadable.append(f"{path}: {exc!r}")


def _drop(files: dict[str, Path], watch: Path, stage: Path) -> list[str]:
    """Copy each file elsewhere, then rename it into the watched folder (atomic)."""
    dropped = []
    for name, src in files.items():
        shutil.copyfile(src, stage / name)
        os.rename(stage / name, watch / name)
        dropped.append(str(watch / name))
    return dropped


def _table(out: Path, table: str) -> list[dict]:
    return read_table(out, table) if list((out / table).glob("**/*.parquet")) else []


def _accounted(out: Path) -> dict[str, list[str]]:
    """Source -> the tables it appears in (articles, duplicates, errors without article)."""
    seen: dict[str, list[str]] = {}
    for table in ("articles", "duplicates", "errors"):
        for row in _table(out, table):
            if table != "errors" or row["article_id"] is None:
                seen.setdefault(row["source"], []).append(table)
    return seen


def _missing(sources: list[str], out: Path) -> list[str]:
    """What is not written yet for these dropped files: their article, duplicate or
    error rows, their ``files`` rows, the entities of their articles."""
    missing = sorted(set(sources) - set(_accounted(out)))
    ledger = {r["path"] for r in _table(out, "files")}
    missing += [f"files:{s}" for s in sorted(set(sources) - ledger)]
    annotated = {r["article_id"] for r in _table(out, "entities")}
    missing += [f"entities:{a['source']}" for a in _table(out, "articles")
                if a["source"] in sources and a["nlp_status"] == "ok"
                and a["article_id"] not in annotated]
    return missing


def _wait_for(sources: list[str], out: Path, proc: subprocess.Popen, log: Path,
              deadline_s: float = 600) -> None:
    """Block until every table has the rows of these files (bounded; fails if the job dies)."""
    end = time.monotonic() + deadline_s
    while missing := _missing(sources, out):
        if proc.poll() is not None:
            pytest.fail(f"watch job exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > end:
            pytest.fail(f"{missing} not written within {deadline_s}s:\n{log.read_text()[-3000:]}")
        time.sleep(1)


@pytest.mark.runners
def test_watch_mode_picks_up_files_dropped_while_it_runs(runner, tmp_path: Path):
    watch, stage, out = tmp_path / "in", tmp_path / "stage", tmp_path / "out"
    for d in (watch, stage):
        d.mkdir()
    log = tmp_path / "job.log"
    argv = [sys.executable, "-m", "pipeline", "--watch", str(watch), "--output", str(out),
            "--window_seconds", "5", "--poll_seconds", "1", *runner[1]]
    watcher = _Watcher(out)
    watcher.start()
    started = time.monotonic()
    with open(log, "w") as log_file:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        # Batch 1: two pages, an in-window copy, an empty page, and a hidden temp file.
        batch1 = _drop({HTML[0].name: HTML[0], HTML[1].name: HTML[1],
                        "copy-" + HTML[1].name: HTML[1],
                        "empty.html": SAMPLES / "bad" / "empty.html"}, watch, stage)
        _drop({".incoming.html": HTML[2]}, watch, stage)
        _wait_for(batch1, out, proc, log)
        first_rows = time.monotonic() - started
        # Batch 2, after batch 1's window was written: so in a later window. The copy
        # of a page from batch 1 sorts first by name, yet batch 1's copy stays kept.
        batch2 = _drop({HTML[2].name: HTML[2], HTML[3].name: HTML[3],
                        "0-copy-" + HTML[0].name: HTML[0],
                        "navigation-only.html": SAMPLES / "bad" / "navigation-only.html"},
                       watch, stage)
        _wait_for(batch2, out, proc, log)
        second_rows = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)  # cancel, as an operator would
        code = proc.wait(timeout=120)
    finally:
        kill_group(proc)
        watcher.stop.set()
        watcher.join()
    assert code == 0, log.read_text()[-3000:]

    # Every file seen while the job ran was complete and readable, and final: none
    # vanished (no temporary file ever showed under a table folder).
    assert watcher.unreadable == []
    assert watcher.seen and all(p.exists() for p in watcher.seen)
    partitions = {p.parent.name for p in watcher.seen}
    assert len(partitions) == 1 and re.fullmatch(r"ingest_date=\d{4}-\d{2}-\d{2}", *partitions)
    # Every dropped file is exactly one article, duplicate or error row; nothing else.
    accounted = _accounted(out)
    assert {s: len(t) for s, t in accounted.items()} == {s: 1 for s in batch1 + batch2}
    articles = {r["source"]: r for r in read_table(out, "articles")}
    assert len({a["article_id"] for a in articles.values()}) == len(articles) == 4
    assert {a["nlp_status"] for a in articles.values()} == {"ok"}
    assert {e["article_id"] for e in read_table(out, "entities")} == {
        a["article_id"] for a in articles.values()}
    duplicates = {Path(d["source"]).name: d for d in read_table(out, "duplicates")}
    assert {n: Path(d["duplicate_of_source"]).name for n, d in duplicates.items()} == {
        "copy-" + HTML[1].name: HTML[1].name, "0-copy-" + HTML[0].name: HTML[0].name}
    for dup in duplicates.values():
        assert articles[dup["duplicate_of_source"]]["article_id"] == dup["duplicate_of"]
    # The files ledger: each dropped file once, the hidden one never.
    assert sorted(r["path"] for r in read_table(out, "files")) == sorted(batch1 + batch2)
    # Batch 1 and batch 2 were written in different windows.
    window_of = {}
    for path in (out / "articles").glob("**/*.parquet"):
        for row in _rows(path):
            window_of[row["source"]] = WINDOW_FILE.match(path.name)["start"]
    assert max(window_of[s] for s in batch1 if s in articles) < min(
        window_of[s] for s in batch2 if s in articles)
    # Temporary files (those of windows cut short by the cancel included) are gone.
    assert not [p for p in (out / "_streaming").rglob("*") if p.is_file()]

    tables = sorted({p.relative_to(out).parts[0] for p in watcher.seen})
    windows = sorted({WINDOW_FILE.match(p.name)["start"] for p in watcher.seen})
    print(f"\nwatch on {runner[0]}: {len(watcher.seen)} files in {len(windows)} windows "
          f"({', '.join(windows)}), tables {tables}, "
          f"{sum(watcher.seen.values())} rows; batch 1 rows after {first_rows:.0f}s, "
          f"batch 2 after {second_rows:.0f}s, stopped after {time.monotonic() - started:.0f}s")


@pytest.mark.runners
def test_watch_mode_drains_and_exits_after_stop_after_seconds(runner, tmp_path: Path):
    """Files already there at launch (all three formats) are read; the job then
    stops watching, writes its last window and exits by itself."""
    watch, out = tmp_path / "in", tmp_path / "out"
    watch.mkdir()
    for src in (HTML[0], HTML[1], SAMPLES / "articles.jsonl", SAMPLES / "articles.warc.gz"):
        shutil.copyfile(src, watch / src.name)
    argv = [sys.executable, "-m", "pipeline", "--watch", str(watch), "--output", str(out),
            "--window_seconds", "2", "--poll_seconds", "1", "--stop_after_seconds", "4",
            "--no_nlp", *runner[1]]
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        kill_group(proc)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["state"] == "DONE"
    # 2 HTML pages + 12 JSONL lines + 12 WARC records of the same 12 pages.
    articles, duplicates = read_table(out, "articles"), read_table(out, "duplicates")
    assert len(articles) == len({a["content_hash"] for a in articles}) == len(HTML)
    assert len(duplicates) == 2 + 2 * len(HTML) - len(HTML)
    assert summary["rows"]["articles"] == len(articles)
    # In a window the smallest source is kept: "…/2026-…html" < "…jsonl:N" < "…warc.gz#…".
    assert Counter(a["input_format"] for a in articles) == {"html": 2, "jsonl": len(HTML) - 2}
    assert sorted(r["path"] for r in read_table(out, "files")) == sorted(
        str(p) for p in watch.iterdir())
    assert not (out / "_streaming" / summary["run_id"]).exists()
    print(f"\ndrain on {runner[0]}: files {summary['files']}, rows {summary['rows']}, "
          f"exited by itself after {seconds:.0f}s")
