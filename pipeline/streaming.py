"""Streaming watch mode: ``python -m pipeline --watch DIR --output OUT --runner=...``.

Files dropped into DIR are listed continuously (Beam's ``Watch``, as in
``fileio.MatchContinuously``; each path once), put in fixed windows by the time
they were found, then read, cleaned, deduplicated, annotated and written with
the batch transforms.
Each window's rows of each table become Parquet files under
``OUT/<table>/ingest_date=<launch date>/<run_id>-<window start>-<window end>-*.parquet``,
written in ``OUT/_streaming/<run_id>/`` and renamed into place once complete,
so the one-glob read ``OUT/<table>/**/*.parquet`` never sees a partial file.

Deduplication: within a window the copy with the smallest ``source`` is kept
(``Deduplicate``); across windows the first kept copy of a content hash wins
and later copies become ``duplicates`` rows pointing at it (per-hash state).

Drop files atomically (write elsewhere, then move into DIR): a file is read
once, when first seen. Names starting with ``.`` or ``_`` are ignored (the
temporary files of rsync, Spark, ...). The job runs until cancelled (SIGINT or
SIGTERM cancel it; unfinished windows are dropped, never half-written) or, with
``--stop_after_seconds``, stops watching and writes its last windows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import signal
import sys
import threading
import time

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.watch import PollFn, PollResult, Watch, after_total_of, never
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import FixedWindows, GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from pipeline.build import process_documents, read_config, resolve_model
from pipeline.options import NewsOptions
from pipeline.publish import write_record
from schemas.layout import (ARTICLES, DUPLICATES, new_run_id, partition, row_count, run_glob,
                            streaming_temp_dir)
from transforms.dedupe import Deduplicate, pick_original
from transforms.incremental import KnownArticles
from transforms.kafka import (ACCOUNTED, ACCOUNTING_TABLES, CommitWrittenOffsets,
                              KafkaUnavailable, ReadKafkaDocuments, known_sources,
                              start_offsets)
from transforms.read import ReadDocuments, expand_input
from transforms.write import WindowedFiles, WriteTables


def is_hidden(path: str) -> bool:
    """Names starting with ``.`` or ``_`` are in-progress or bookkeeping files."""
    return path.rstrip("/").rsplit("/", 1)[-1].startswith((".", "_"))


class ListFiles(PollFn):
    """One listing of the watched pattern per call, hidden names left out.

    Listings are at least ``min_interval`` seconds apart: a runner that resumes
    the watch at once instead of after the poll interval (Flink does) would
    otherwise list the directory in a busy loop.
    """

    def __init__(self, min_interval: float):
        self.min_interval = min_interval
        self._last = float("-inf")

    def __call__(self, pattern: str) -> PollResult[FileMetadata]:
        time.sleep(max(0.0, self._last + self.min_interval - time.monotonic()))
        self._last = time.monotonic()
        now = Timestamp.now()
        found = FileSystems.match([pattern])[0].metadata_list
        return PollResult.incomplete([m for m in found if not is_hidden(m.path)],
                                     timestamp=now).with_watermark(now)


def _path(meta: FileMetadata) -> str:
    return meta.path


class WatchFiles(beam.PTransform):
    """Pipeline start -> ``FileMetadata`` of each new file under ``directory``, once
    per path, in fixed windows of the time it was found; with ``stop_after``
    (seconds of wall-clock time), the watch ends and so does the stream."""

    def __init__(self, directory: str, poll_seconds: float, window_seconds: int,
                 stop_after: float | None = None):
        super().__init__()
        self.pattern = expand_input(directory if directory.endswith("/") else directory + "/")
        self.poll_seconds, self.window_seconds = poll_seconds, window_seconds
        self.stop_after = stop_after

    def expand(self, pbegin):
        termination = after_total_of(self.stop_after) if self.stop_after else never()
        return (pbegin
                | "Pattern" >> beam.Create([self.pattern])
                | "Watch" >> Watch(ListFiles(self.poll_seconds), self.poll_seconds,
                                   termination=termination, output_key_fn=_path)
                | "Files" >> beam.Map(lambda pattern_and_file: pattern_and_file[1]
                                      ).with_output_types(FileMetadata)
                | "Window" >> beam.WindowInto(FixedWindows(self.window_seconds))
                # On Flink, a stage chained to the watch's stage held its output
                # until the stream ended; a shuffle here keeps every branch timely.
                | "Spread" >> beam.Reshuffle())


class _FirstAcrossWindowsFn(beam.DoFn):
    """Per content hash: the first kept article wins; later windows' copies (and
    their in-window duplicate rows) point at it."""

    KEPT = ReadModifyWriteStateSpec("kept", PickleCoder())

    def process(self, keyed, kept=beam.DoFn.StateParam(KEPT)):
        _, (tag, row) = keyed
        first = kept.read()  # (article_id, source) of the article kept first
        if tag == DUPLICATES:
            if first and row["duplicate_of"] != first[0]:
                row = {**row, "duplicate_of": first[0], "duplicate_of_source": first[1]}
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)
        elif first is None:
            kept.write((row["article_id"], row["source"]))
            yield row
        else:
            for duplicate in pick_original([row], first)[1]:
                yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)


class DeduplicateAcrossWindows(beam.PTransform):
    """Windowed articles -> articles unique over the whole stream (main) and
    ``duplicates`` rows: ``Deduplicate`` per window, then per-hash state.
    ``stored``: ``(content_hash, (article_id, source))`` the dataset held at launch
    (``KnownArticles``); a copy of one of those is a duplicate of the stored article."""

    def __init__(self, window_seconds: int, stored: beam.PCollection | None = None):
        super().__init__()
        self.window_seconds, self.stored = window_seconds, stored

    def expand(self, articles):
        unique = articles | "InWindow" >> Deduplicate(self.stored)
        tagged = ((unique.articles | "TagArticles" >> beam.Map(lambda a: (ARTICLES, a)),
                   unique[DUPLICATES] | "TagDuplicates" >> beam.Map(lambda d: (DUPLICATES, d)))
                  | "Both" >> beam.Flatten()
                  | "ByHash" >> beam.WithKeys(lambda t: t[1]["content_hash"])
                  | "Global" >> beam.WindowInto(GlobalWindows())
                  | "FirstWins" >> beam.ParDo(_FirstAcrossWindowsFn()).with_outputs(
                      DUPLICATES, main=ARTICLES))
        # Rows keep their timestamps, so they return to the window they came from.
        windows = FixedWindows(self.window_seconds)
        return {ARTICLES: tagged.articles | "RewindowArticles" >> beam.WindowInto(windows),
                DUPLICATES: tagged[DUPLICATES] | "RewindowDuplicates" >> beam.WindowInto(windows)}


def build_streaming_tables(p: beam.Pipeline, opts: NewsOptions,
                           kafka: KafkaStart | None = None) -> dict[str, beam.PCollection]:
    """Every output table as a windowed PCollection of rows: the stages of
    ``pipeline.build.build_tables``, fed by the watch (or the Kafka topic, ``kafka``:
    where the run starts), deduplicated across windows. A Kafka read's offsets of
    messages already in the dataset are in ``kafka.accounted`` once built."""
    if kafka is None:
        watch = WatchFiles(opts.watch, opts.poll_seconds, opts.window_seconds,
                           opts.stop_after_seconds or None)
        read = p | "Read" >> ReadDocuments(read_config(opts, "reshuffle", matcher=watch))
    else:
        read = p | "Read" >> ReadKafkaDocuments(
            opts.kafka_bootstrap_servers, opts.kafka_topic, opts.kafka_group_id,
            opts.kafka_expansion_service, opts.window_seconds, opts.max_document_bytes,
            kafka.known)
        kafka.accounted = read[ACCOUNTED]
    # A Kafka stream resumes into its dataset: what it already holds is not stored again.
    stored = (p | "StoredArticles" >> KnownArticles(opts.output)
              if kafka is not None and kafka.stored_articles else None)
    return process_documents(read, opts, DeduplicateAcrossWindows(opts.window_seconds, stored))


@dataclasses.dataclass
class KafkaStart:
    """Where a Kafka run starts: per partition, the first offset it reads (the group's
    committed offset), and the messages from there on that the dataset already holds."""

    start: dict[str, int]
    known: frozenset[str]
    stored_articles: bool = False  # the dataset has articles
    accounted: beam.PCollection | None = None


def kafka_start(opts: NewsOptions) -> KafkaStart:
    """Ask the brokers where the group stands, and the dataset what it already holds."""
    import pyarrow.parquet as pq

    from pipeline.dataset import table_files

    start = start_offsets(opts.kafka_bootstrap_servers, opts.kafka_topic, opts.kafka_group_id)
    sources: list[str] = []
    held = {}
    for table in ACCOUNTING_TABLES:
        held[table] = table_files(opts.output, table) if FileSystems.exists(opts.output) else []
        for path in held[table]:
            with FileSystems.open(path) as f:
                sources += pq.read_table(f, columns=["source"]).column("source").to_pylist()
    return KafkaStart(start, known_sources(sources, opts.kafka_topic, start),
                      stored_articles=bool(held[ARTICLES]))


def run_files(output: str, table: str, run_id: str) -> list[str]:
    """The Parquet files one streaming run has published for a table."""
    found = FileSystems.match([run_glob(output, table, run_id)])
    return sorted(m.path for m in found[0].metadata_list)


def _summary(output: str, tables: list[str], run_id: str, state: str, seconds: float) -> dict:
    files = {t: run_files(output, t, run_id) for t in tables}
    rows = {table: row_count(paths) for table, paths in files.items()}
    return {"run_id": run_id, "mode": "streaming", "state": state, "seconds": round(seconds, 2),
            "files": {t: len(v) for t, v in files.items()}, "rows": rows}


def _wait(result) -> str:
    """Block until the job ends; SIGINT or SIGTERM cancel it. Returns its final state."""
    failure: list[Exception] = []

    def wait() -> None:
        try:
            result.wait_until_finish()
        except Exception as exc:  # a failed or cancelled job
            failure.append(exc)

    waiter = threading.Thread(target=wait, name="wait_until_finish", daemon=True)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main else None
    try:
        waiter.start()
        while waiter.is_alive():  # joined in slices so that signals are handled
            waiter.join(0.5)
    except KeyboardInterrupt:
        print("streaming: cancelling the job", file=sys.stderr, flush=True)
        result.cancel()
        waiter.join(60)
        return PipelineState.CANCELLED
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    if failure and result.state != PipelineState.CANCELLED:
        print(f"streaming: the job failed: {failure[0]}", file=sys.stderr)
    return result.state


def run_streaming(options: PipelineOptions) -> int:
    """Launch the watch (or Kafka) pipeline and block until it stops; 0 when it ended cleanly."""
    opts = options.view_as(NewsOptions)
    standard = options.view_as(StandardOptions)
    if not opts.output:
        print("usage: python -m pipeline --watch DIR --output DIR [--window_seconds N] "
              "--runner=PrismRunner|PortableRunner ...", file=sys.stderr)
        return 2
    if not standard.runner:
        print("error: --watch needs a streaming runner, e.g. --runner=PrismRunner "
              "--prism_location=PATH, or a Flink job server (--runner=PortableRunner)",
              file=sys.stderr)
        return 2
    kafka = None
    if opts.kafka_topic:
        try:
            kafka = kafka_start(opts)
        except KafkaUnavailable as exc:
            print(f"error: --kafka_topic: {exc}", file=sys.stderr)
            return 2
    elif not FileSystems.exists(opts.watch):
        print(f"error: --watch directory {opts.watch} does not exist", file=sys.stderr)
        return 2
    resolve_model(opts)
    standard.streaming = True

    launched = dt.datetime.now(dt.timezone.utc)
    run_id = new_run_id(launched)
    temp = streaming_temp_dir(opts.output, run_id)
    windowed = WindowedFiles(partition(launched.date()), run_id, temp)

    p = beam.Pipeline(options=options)
    tables = build_streaming_tables(p, opts, kafka)
    written = tables | "Write" >> WriteTables(opts.output, None, windowed)
    if kafka is None:
        what = f"watching {opts.watch}"
    else:
        (written, kafka.accounted) | "CommitOffsets" >> CommitWrittenOffsets(
            opts.output, opts.kafka_bootstrap_servers, opts.kafka_topic, opts.kafka_group_id,
            kafka.start)
        what = (f"reading kafka://{opts.kafka_topic} (group {opts.kafka_group_id}, from "
                f"{', '.join(f'{k}@{v}' for k, v in sorted(kafka.start.items()))}; "
                f"{len(kafka.known)} of those already written)")
    print(f"streaming run {run_id}: {what}, {opts.window_seconds}s windows",
          file=sys.stderr, flush=True)
    started = time.monotonic()
    state = _wait(p.run())
    if FileSystems.exists(temp):  # files of unfinished windows; complete ones were moved out
        FileSystems.delete([temp])
    summary = _summary(opts.output, list(tables), run_id, str(state), time.monotonic() - started)
    if kafka is not None:
        summary["kafka"] = {"topic": opts.kafka_topic, "group": opts.kafka_group_id,
                            "started_at": kafka.start, "already_written": len(kafka.known),
                            "committed": _committed(opts)}
    write_record(opts.output, summary)  # _runs/<run_id>.json and _run.json
    print(json.dumps(summary))
    return 0 if state in (PipelineState.DONE, PipelineState.CANCELLED) else 1


def _committed(opts: NewsOptions) -> dict[str, int] | str:
    """The group's committed offsets now (what a restart resumes from)."""
    try:
        return start_offsets(opts.kafka_bootstrap_servers, opts.kafka_topic, opts.kafka_group_id)
    except KafkaUnavailable as exc:
        return str(exc)
