"""Write each table as Parquet with the schema from ``schemas``.

Files go through Beam's sinks (temporary files, then a rename at the end), so
a killed run never leaves a half-written Parquet file under a table folder.

Batch runs use ``WriteToParquet``. Windowed (streaming) runs pass ``WindowedFiles``:
each window's rows go through ``fileio.WriteToFiles`` into a temporary folder
outside every table folder, and appear under ``<output>/<table>/<partition>/``
only by a rename once complete, named after their window.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import GlobalWindow

import schemas


def table_prefix(output: str, table: str) -> str:
    """Path prefix of a table's Parquet files."""
    return FileSystems.join(output, table, "part")


def table_glob(output: str, table: str) -> str:
    """Glob of every Parquet file of a table (all partitions)."""
    return FileSystems.join(output, table, "**.parquet")


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


def window_file_naming(prefix: str):
    """``fileio`` file naming: ``<prefix>-<start>-<end>-SSSSS-of-NNNNN.parquet`` (UTC)."""
    def name(window, pane, shard_index, total_shards, compression, destination) -> str:
        span = "" if window == GlobalWindow() else f"-{_stamp(window.start)}-{_stamp(window.end)}"
        return f"{prefix}{span}-{shard_index or 0:05d}-of-{total_shards or 1:05d}.parquet"
    return name


class ParquetFileSink(fileio.FileSink):
    """``fileio`` sink: row dicts -> one Parquet file with a table schema."""

    def __init__(self, schema: pa.Schema, codec: str = "snappy", batch_rows: int = 1000):
        self.schema, self.codec, self.batch_rows = schema, codec, batch_rows
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[dict] = []

    def create_metadata(self, destination, full_file_name):
        return fileio.FileMetadata(mime_type="application/x-parquet",
                                   compression_type=CompressionTypes.UNCOMPRESSED)

    def open(self, fh) -> None:
        self._writer = pq.ParquetWriter(fh, self.schema, compression=self.codec)
        self._rows = []

    def _write_rows(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def write(self, record: dict) -> None:
        self._rows.append(record)
        if len(self._rows) >= self.batch_rows:
            self._write_rows()

    def flush(self) -> None:
        """Write what is buffered and the Parquet footer (the caller closes ``fh``)."""
        if self._writer is not None:
            self._write_rows()
            self._writer.close()
            self._writer = None


class WriteTable(beam.PTransform):
    """Rows (dicts) -> ``<output>/<table>/part-*.parquet``; with ``windowed``, one
    set of files per window (see ``WindowedFiles``). ``ingested_at`` None: the
    time each row is written."""

    def __init__(self, output: str, table: str, ingested_at: dt.datetime | None,
                 windowed: WindowedFiles | None = None):
        super().__init__()
        self.output, self.table, self.ingested_at = output, table, ingested_at
        self.schema = schemas.TABLES[table]
        self.windowed = windowed

    def expand(self, rows):
        schema, ingested_at = self.schema, self.ingested_at
        projected = rows | "Project" >> beam.Map(to_row, schema, ingested_at)
        if self.windowed is None:
            return projected | "Parquet" >> beam.io.WriteToParquet(
                table_prefix(self.output, self.table), schema,
                file_name_suffix=".parquet", codec="snappy")
        w = self.windowed
        return projected | "WindowedParquet" >> fileio.WriteToFiles(
            path=FileSystems.join(self.output, self.table, w.partition),
            file_naming=window_file_naming(w.file_prefix),
            temp_directory=StaticValueProvider(str, FileSystems.join(w.temp_directory, self.table)),
            sink=lambda _dest: ParquetFileSink(schema),
            shards=w.shards, max_writers_per_bundle=0)  # 0: group each window's rows first


class WriteTables(beam.PTransform):
    """A dict of table name -> PCollection of rows, each written as Parquet."""

    def __init__(self, output: str, ingested_at: dt.datetime | None,
                 windowed: WindowedFiles | None = None):
        super().__init__()
        self.output, self.ingested_at, self.windowed = output, ingested_at, windowed

    def expand(self, tables: dict):
        return {name: rows | f"Write {name}" >> WriteTable(
                    self.output, name, self.ingested_at, self.windowed)
                for name, rows in tables.items()}
