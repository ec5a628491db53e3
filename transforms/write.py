"""Write each table as Parquet with the schema from ``schemas``.

Files go through Beam's sinks (temporary files, then a rename at the end), so
a killed run never leaves a half-written Parquet file under a table folder.
"""
from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import schemas


def table_prefix(output: str, table: str) -> str:
    """Path prefix of a table's Parquet files."""
    return FileSystems.join(output, table, "part")


def table_glob(output: str, table: str) -> str:
    """Glob of every Parquet file of a table (all partitions)."""
    return FileSystems.join(output, table, "**.parquet")


def to_row(row: dict, schema, ingested_at: dt.datetime) -> dict:
    """Project a record onto a table schema, stamping ``ingested_at``."""
    out = {name: row.get(name) for name in schema.names}
    if "ingested_at" in out:
        out["ingested_at"] = ingested_at
    return out


class WriteTable(beam.PTransform):
    """Rows (dicts) -> ``<output>/<table>/part-*.parquet``."""

    def __init__(self, output: str, table: str, ingested_at: dt.datetime):
        super().__init__()
        self.output, self.table, self.ingested_at = output, table, ingested_at
        self.schema = schemas.TABLES[table]

    def expand(self, rows):
        schema, ingested_at = self.schema, self.ingested_at
        return (
            rows
            | "Project" >> beam.Map(to_row, schema, ingested_at)
            | "Parquet" >> beam.io.WriteToParquet(
                table_prefix(self.output, self.table), schema,
                file_name_suffix=".parquet", codec="snappy"))


class WriteTables(beam.PTransform):
    """A dict of table name -> PCollection of rows, each written as Parquet."""

    def __init__(self, output: str, ingested_at: dt.datetime):
        super().__init__()
        self.output, self.ingested_at = output, ingested_at

    def expand(self, tables: dict):
        return {name: rows | f"Write {name}" >> WriteTable(self.output, name, self.ingested_at)
                for name, rows in tables.items()}
