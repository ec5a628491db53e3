"""The dataset's layout: the names of its tables and where each table's files live.

``OUTPUT/<table>/ingest_date=YYYY-MM-DD/<run_id>-<part>.parquet``, read with one
glob (``OUTPUT/<table>/**/*.parquet``; DuckDB and Spark see the ``ingest_date``
partition column). A batch run writes under ``OUTPUT/_staging/<run_id>/`` and
publishes; a streaming run writes each file under ``OUTPUT/_streaming/<run_id>/``
and renames it into place. The run summary is ``OUTPUT/_run.json``.
"""
from __future__ import annotations

import datetime as dt
import uuid

# Table names (the schemas of ``schemas.TABLES`` carry the same name in their metadata).
ARTICLES = "articles"
ERRORS = "errors"
DUPLICATES = "duplicates"
FILES = "files"
ENTITIES = "entities"
MENTIONS = "mentions"
FIGURES = "figures"
QUOTES = "quotes"
NLP_TABLES = (ENTITIES, MENTIONS, FIGURES, QUOTES)
STORIES = "stories"
SIGNATURES = "signatures"

# Bookkeeping folders and files beside the tables (names starting with "_").
MARKER = "_dataset.json"     # marks a directory as a dataset (pipeline/dataset.py)
LOCK = "_lock"               # one writer at a time (pipeline/lock.py)
SUMMARY = "_run.json"        # the latest run's record
RUNS = "_runs"               # every run's record: _runs/<run_id>.json
JOURNAL = "_journal"         # a publish in progress (pipeline/publish.py)
STAGING = "_staging"         # _staging/<run_id>/: a batch run's tables before publishing
TRASH = "_trash"             # _trash/<run_id>/: files a full run replaced, until it commits
STREAMING = "_streaming"
BOOKKEEPING = (MARKER, LOCK, SUMMARY, RUNS, JOURNAL, STAGING, TRASH, STREAMING)

PARTITION_KEY = "ingest_date"


def _join(*parts: str) -> str:
    """``FileSystems.join`` (local, gs://, s3://), imported on first use: the names
    above are read by Beam-free child processes that should not import Beam."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(*parts)


def new_run_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<8 hex>``: sorts by start time, unique across overlapping runs."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def partition(ingest_date: dt.date | str) -> str:
    """The partition folder of one ingest date: ``ingest_date=YYYY-MM-DD``."""
    day = ingest_date.isoformat() if isinstance(ingest_date, dt.date) else ingest_date
    return f"{PARTITION_KEY}={day}"


def table_dir(output: str, table: str) -> str:
    return _join(output, table)


def table_glob(output: str, table: str) -> str:
    """Glob of every Parquet file of a table (all partitions)."""
    return _join(output, table, "**.parquet")


def run_glob(output: str, table: str, run_id: str) -> str:
    """Glob of the Parquet files one run has published for a table."""
    return _join(output, table, "**", f"{run_id}-*.parquet")


def staging_dir(output: str, run_id: str | None = None) -> str:
    """Where a batch run writes before publishing (all runs' when ``run_id`` is None)."""
    return _join(output, STAGING, *([run_id] if run_id else []))


def streaming_temp_dir(output: str, run_id: str) -> str:
    """Where a streaming run writes each file before renaming it into its table."""
    return _join(output, STREAMING, run_id)


def summary_path(output: str) -> str:
    return _join(output, SUMMARY)


def row_count(paths: list[str]) -> int:
    """Rows in these Parquet files, from their footers (no data is read)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    total = 0
    for path in paths:
        with FileSystems.open(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total
