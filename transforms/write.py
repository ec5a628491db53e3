"""Write every table as Parquet with the schema from ``schemas``, through few sinks.

Tables go through a ``fileio.WriteToFiles`` whose destinations are the table
names: one set of write stages for them all (eight ``WriteToParquet`` sinks cost
the launcher about a second to build and add stages at both ends). Tables whose
rows come as one PCollection of ``(table, row)`` (the articles and NLP tables of a
batch run) get a second one, in the stage that makes them (``WriteTables``).
Files are written under a temporary folder and appear under ``<output>/<table>/``
only by a rename once complete, so a killed run never leaves a half-written file.

Batch runs: ``<output>/<table>/part-SSSSS-of-NNNNN.parquet``, a file per worker
bundle; ``write_empty_tables`` then gives a table without rows one empty file.
Windowed (streaming) runs pass ``WindowedFiles``: each window's rows of a table
become one file in ``<output>/<table>/<partition>/``, named after the window.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import weakref

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import GlobalWindow

import schemas
from schemas.layout import table_dir, table_glob
from transforms.shaping.memory import (HeapTrimmer, arrow_on_system_heap, few_arenas,
                                      return_large_blocks)


def to_row(row: dict, schema, ingested_at: dt.datetime | None) -> dict:
    """Project a record onto a table schema, stamping ``ingested_at`` (None: now)."""
    out = {name: row.get(name) for name in schema.names}
    if "ingested_at" in out:
        out["ingested_at"] = ingested_at or dt.datetime.now(dt.timezone.utc)
    return out


@dataclasses.dataclass(frozen=True)
class WindowedFiles:
    """Where a windowed write puts each table's files.

    ``<output>/<table>/<partition>/<file_prefix>-<start>-<end>-SSSSS-of-NNNNN.parquet``
    (the window's bounds), written first under ``temp_directory`` (keep it outside
    every table folder) and renamed into place once complete.
    ``shards``: files per table and window (each window's rows are grouped first).
    """

    partition: str
    file_prefix: str
    temp_directory: str
    shards: int = 1


def _stamp(ts) -> str:
    return ts.to_utc_datetime().strftime("%Y%m%dT%H%M%SZ")


def table_file_naming(prefix: str = "part", partition: str | None = None):
    """``fileio`` file naming: ``<table>/[<partition>/]<prefix>[-<start>-<end>]-SSSSS-of-NNNNN.parquet``
    (the window's bounds, UTC, for windowed writes); the destination is the table."""
    def name(window, pane, shard_index, total_shards, compression, destination) -> str:
        span = "" if window == GlobalWindow() else f"-{_stamp(window.start)}-{_stamp(window.end)}"
        folder = destination if partition is None else f"{destination}/{partition}"
        return f"{folder}/{prefix}{span}-{shard_index or 0:05d}-of-{total_shards or 1:05d}.parquet"
    return name


def _ensure_folder(path: str) -> None:
    """Create a local folder (files are renamed into it); object stores need none."""
    if FileSystems.get_scheme(path) is None:
        os.makedirs(path, exist_ok=True)


VALUE_BYTES = 64  # what a value costs in a buffered row beyond its characters (CPython)

_OPEN = threading.local()  # the sinks open in this thread: one bundle's writers


def _open_sinks() -> weakref.WeakSet:
    if not hasattr(_OPEN, "sinks"):
        _OPEN.sinks = weakref.WeakSet()
    return _OPEN.sinks


def _bundle_scope():
    """What the sinks of one bundle share: its processor's state tracker (None outside
    a Beam worker). The SDK harness (local, Prism, Flink, Dataflow) gives a retried
    bundle a new processor; the sinks of a bundle that failed in a sink leave the
    budget at once (``_abandon``), for runners that retry in the same one."""
    try:
        from apache_beam.runners.worker import statesampler
        return statesampler.get_current_tracker()
    except Exception:  # another SDK layout: the thread alone
        return None


def row_bytes(row: dict) -> int:
    """About what a buffered row costs: its characters and ``VALUE_BYTES`` a value."""
    return sum(len(v) for v in row.values() if isinstance(v, (str, bytes))) + VALUE_BYTES * len(row)


class ParquetFileSink(fileio.FileSink):
    """``fileio`` sink: ``(table, row)`` records -> one Parquet file with the
    table's schema.

    Rows become Arrow record batches, and batches a row group, under budgets that the
    sinks open in one bundle share (its writers, a table each; ``_bundle_scope``): once
    the rows they buffer cost ``batch_bytes`` (``row_bytes``), the sink holding most
    converts its rows; once their batches hold ``group_bytes`` of Arrow data, the sink
    holding most writes a row group. A sink also converts at ``batch_rows`` rows and
    writes at ``group_rows``. So a bundle's writers hold a bounded amount together, however many
    rows or tables it writes (articles carry their whole text), and each row group
    holds at least a fair share of the budget."""

    def __init__(self, schema: pa.Schema, codec: str = "snappy", batch_rows: int = 1_000,
                 group_rows: int = 10_000, group_bytes: int = 4 << 20,
                 batch_bytes: int = 1 << 20):
        self.schema, self.codec = schema, codec
        self.batch_rows, self.group_rows, self.group_bytes = batch_rows, group_rows, group_bytes
        self.batch_bytes = batch_bytes
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[dict] = []
        self._row_bytes = 0
        self._batches: list[pa.RecordBatch] = []
        self._scope = None
        self._trimmer = HeapTrimmer()

    def create_metadata(self, destination, full_file_name):
        return fileio.FileMetadata(mime_type="application/x-parquet",
                                   compression_type=CompressionTypes.UNCOMPRESSED)

    def open(self, fh) -> None:
        arrow_on_system_heap()  # freed buffers go back with the heap's (``HeapTrimmer``)
        return_large_blocks()  # where ``pipeline`` was not imported first (remote workers)
        few_arenas()
        self._writer = pq.ParquetWriter(fh, self.schema, compression=self.codec)
        self._rows, self._row_bytes, self._batches = [], 0, []
        self._scope = _bundle_scope()
        _open_sinks().add(self)

    def _peers(self) -> list[ParquetFileSink]:
        return [s for s in _open_sinks() if s._writer is not None and s._scope is self._scope]

    def _arrow_bytes(self) -> int:
        return sum(b.nbytes for b in self._batches)

    def _abandon(self) -> None:
        """This bundle failed: its sinks leave the budget (their files are not kept)."""
        for sink in self._peers():
            _open_sinks().discard(sink)
        _open_sinks().discard(self)

    def _to_batch(self) -> None:
        if self._rows:
            self._batches.append(pa.RecordBatch.from_pylist(self._rows, schema=self.schema))
            self._rows, self._row_bytes = [], 0
            self._trimmer.tick()
            if sum(b.num_rows for b in self._batches) >= self.group_rows:
                self._write_group()
                return
            peers = self._peers()
            if sum(s._arrow_bytes() for s in peers) >= self.group_bytes:
                max(peers, key=lambda s: s._arrow_bytes())._write_group()

    def _write_group(self) -> None:
        if self._batches:  # one row group per call
            self._writer.write_table(pa.Table.from_batches(self._batches, schema=self.schema),
                                     row_group_size=self.group_rows)
            self._batches = []

    def write(self, record: tuple[str, dict]) -> None:
        row = record[1]
        self._rows.append(row)
        self._row_bytes += row_bytes(row)
        try:
            if len(self._rows) >= self.batch_rows:
                self._to_batch()
                return
            peers = self._peers()
            if sum(s._row_bytes for s in peers) >= self.batch_bytes:
                max(peers, key=lambda s: s._row_bytes)._to_batch()
        except BaseException:
            self._abandon()
            raise

    def flush(self) -> None:
        """Write what is buffered and the Parquet footer (the caller closes ``fh``)."""
        if self._writer is not None:
            try:
                self._to_batch()
                self._write_group()
                self._writer.close()
            except BaseException:
                self._abandon()
                raise
            self._writer = None
            _open_sinks().discard(self)


def _sink(table: str) -> ParquetFileSink:
    return ParquetFileSink(schemas.TABLES[table])


def _tag(row: dict, table: str, schema, ingested_at: dt.datetime | None) -> tuple[str, dict]:
    return table, to_row(row, schema, ingested_at)


def _project(record: tuple[str, dict], ingested_at: dt.datetime | None) -> tuple[str, dict]:
    """``_tag`` for a record that names its table."""
    return _tag(record[1], record[0], schemas.TABLES[record[0]], ingested_at)


class WriteTables(beam.PTransform):
    """A dict of table name -> PCollection of rows, each table written as Parquet
    (see the module's docstring). ``ingested_at`` None: the time each row is written.

    Tables that share one PCollection hold ``(table, row)`` records of them all
    (``transforms.annotate.UnpackAnnotations(records=True)``): those are written by a
    sink of their own, in the stage that makes them. On the local runner, rows joined
    with the other tables' (``beam.Flatten``) are first held by the runner and sent
    whole to a write stage, which costs memory in proportion to the input; articles
    and NLP rows are most of it."""

    def __init__(self, output: str, ingested_at: dt.datetime | None,
                 windowed: WindowedFiles | None = None):
        super().__init__()
        self.output, self.ingested_at, self.windowed = output, ingested_at, windowed

    def expand(self, tables: dict):
        w = self.windowed
        for name in tables:
            _ensure_folder(FileSystems.join(table_dir(self.output, name),
                                            *([w.partition] if w else [])))
        sharing: dict[int, list[str]] = {}
        for name, pcoll in tables.items():
            sharing.setdefault(id(pcoll), []).append(name)
        plain = {n: tables[n] for names in sharing.values() if len(names) == 1 for n in names}
        rows = [pcoll | f"Project {name}" >> beam.Map(
                    _tag, name, schemas.TABLES[name], self.ingested_at)
                for name, pcoll in plain.items()]
        written = [rows | "AllTables" >> beam.Flatten()
                   | "Parquet" >> self._files(len(plain))]
        for names in (names for names in sharing.values() if len(names) > 1):
            label = "+".join(names)
            written.append(tables[names[0]]
                           | f"Project {label}" >> beam.Map(_project, self.ingested_at)
                           | f"Parquet {label}" >> self._files(len(names)))
        return written[0] if len(written) == 1 else written | "AllWritten" >> beam.Flatten()

    def _files(self, tables: int) -> fileio.WriteToFiles:
        """The sink of ``tables`` tables' records."""
        w = self.windowed
        if w is None:  # a file per table and worker bundle
            naming, temp, shards, writers = table_file_naming(), None, None, 4 * tables
        else:  # 0 writers: group each window's rows first, ``w.shards`` files each
            naming = table_file_naming(w.file_prefix, w.partition)
            temp, shards, writers = StaticValueProvider(str, w.temp_directory), w.shards, 0
        return fileio.WriteToFiles(
            path=self.output, destination=lambda record: record[0], sink=_sink,
            file_naming=naming, temp_directory=temp, shards=shards,
            max_writers_per_bundle=writers)


def write_empty_tables(output: str, tables: list[str]) -> None:
    """An empty file (the schema, no rows) for each table that has no file under
    ``output``, so that a table's glob always matches (DuckDB, Spark)."""
    for table in tables:
        if FileSystems.match([table_glob(output, table)])[0].metadata_list:
            continue
        folder = table_dir(output, table)
        _ensure_folder(folder)
        with FileSystems.create(FileSystems.join(folder, "part-00000-of-00001.parquet")) as f:
            pq.write_table(schemas.TABLES[table].empty_table(), f)
