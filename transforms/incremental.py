"""Incremental runs: skip input files, and articles, that the output already holds.

A nightly job over a growing directory then does only new work: files seen by
an earlier run (same path, size and modification time, from the ``files``
table) are not read again, and an article whose content hash is already in
``articles`` becomes a ``duplicates`` row pointing at the stored article.
"""
from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.metrics import Metrics

from schemas.layout import ARTICLES, FILES, table_glob


def file_key(path: str, size: int | None, modified: dt.datetime | float | None) -> str:
    """Identity of an input file version."""
    if isinstance(modified, dt.datetime):
        modified = modified.timestamp()
    return f"{path}\0{size}\0{round(modified or 0.0, 3)}"


def file_row(meta: FileMetadata) -> dict:
    """A row of ``schemas.FILES`` for a matched input file."""
    mtime = getattr(meta, "last_updated_in_seconds", None)
    return {"path": meta.path, "size_bytes": meta.size_in_bytes,
            "modified_at": dt.datetime.fromtimestamp(mtime, dt.timezone.utc) if mtime else None}


class _SkipKnownFn(beam.DoFn):
    def __init__(self):
        self.skipped = Metrics.counter("read", "already_ingested_files_skipped")

    def process(self, meta: FileMetadata, known):
        row = file_row(meta)
        if file_key(row["path"], row["size_bytes"], row["modified_at"]) in known:
            self.skipped.inc()
            return
        yield meta


class SkipKnownFiles(beam.PTransform):
    """Matched files minus those listed in the output's ``files`` table."""

    def __init__(self, output: str):
        super().__init__()
        self.output = output

    def expand(self, matched):
        known = (
            matched.pipeline
            | "ReadKnownFiles" >> beam.io.ReadFromParquet(
                table_glob(self.output, FILES), columns=["path", "size_bytes", "modified_at"])
            | "FileKey" >> beam.Map(
                lambda r: (file_key(r["path"], r["size_bytes"], r["modified_at"]), True)))
        return matched | "SkipKnown" >> beam.ParDo(
            _SkipKnownFn(), known=beam.pvalue.AsDict(known))


class KnownArticles(beam.PTransform):
    """``content_hash -> (article_id, source)`` of the articles already stored."""

    def __init__(self, output: str):
        super().__init__()
        self.output = output

    def expand(self, pbegin):
        return (
            pbegin
            | "ReadKnownArticles" >> beam.io.ReadFromParquet(
                table_glob(self.output, ARTICLES),
                columns=["content_hash", "article_id", "source"])
            | "ByHash" >> beam.Map(lambda r: (r["content_hash"], (r["article_id"], r["source"]))))
