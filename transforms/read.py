"""Read documents: HTML files, WARC response records and JSONL lines (the Beam stage).

The formats themselves are read by Beam-free readers in ``transforms.formats``
(``html``, ``warc``, ``jsonl``). Every document comes out as a
``transforms.formats.document.Document`` (``source``, ``input_format``, one body:
``raw`` bytes, ``html`` text or extracted ``text``, and whatever metadata the
container carries). A record that
cannot be read becomes an error row; it never costs the rest of its file.
"""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.layout import ERRORS
from transforms.errors import error_row
from transforms.formats.document import Document
from transforms.formats.html import iter_html_file
from transforms.formats.jsonl import iter_jsonl
from transforms.formats.records import (STAGE, BadRecord, TooLarge,  # noqa: F401
                                        UnsupportedFormat, read_capped)
from transforms.formats.warc import HTML_TYPES, WarcReader, iter_warc  # noqa: F401
from transforms.shaping.balance import BalancedGroups


def input_format(path: str) -> str | None:
    """``html``, ``warc`` or ``jsonl`` from a file name, or None."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, kind in ((".html", "html"), (".htm", "html"), (".xhtml", "html"),
                         (".warc", "warc"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if name.endswith(suffix):
            return kind
    return None


def expand_input(pattern: str) -> str:
    """A directory (local, or a ``scheme://prefix/``) becomes a recursive glob."""
    if any(c in pattern for c in "*?["):
        return pattern
    if pattern.endswith("/") or (FileSystems.get_scheme(pattern) is None
                                 and os.path.isdir(pattern)):
        return pattern.rstrip("/") + "/**"
    return pattern


# Each reader: ``(path, stream, limit)`` -> ``Document`` records and ``{"error": row}`` items.
READERS = {"html": iter_html_file, "warc": WarcReader, "jsonl": iter_jsonl}

# Files are spread over workers in bins of about this many bytes and files.
FILE_BIN_BYTES, FILE_BIN_SIZE = 64 << 20, 64
_PER_FILE_BYTES = 16 << 10  # the fixed cost of a file, in bytes of parsing


def file_weight(metadata) -> int:
    """Expected cost of reading and cleaning a matched file: its bytes, plus a
    little for opening it."""
    return (metadata.size_in_bytes or 0) + _PER_FILE_BYTES


class ReadFileFn(beam.DoFn):
    """Reads one matched file into documents; failures go to the errors output."""

    def __init__(self, max_document_bytes: int):
        self.max_document_bytes = max_document_bytes
        self.files = Metrics.counter(STAGE, "files")
        self.documents = Metrics.counter(STAGE, "documents")
        self.errors = Metrics.counter(STAGE, "errors")

    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        self.files.inc()
        kind = input_format(path)
        try:
            if kind is None:
                raise UnsupportedFormat(
                    "not .html/.htm, .warc or .jsonl (optionally .gz)")
            size = readable.metadata.size_in_bytes
            if kind == "html" and not path.lower().endswith(".gz") and size > self.max_document_bytes:
                raise TooLarge(f"file of {size:,} bytes, larger than the "
                               f"{self.max_document_bytes:,}-byte cap (--max_document_bytes); not read")
            with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as stream:
                reader = READERS[kind](path, stream, self.max_document_bytes)
                try:
                    yield from self._emit(reader)
                finally:
                    for name, count in getattr(reader, "skipped", {}).items():
                        Metrics.counter(STAGE, name).inc(count)
        except Exception as exc:
            self.errors.inc()
            yield beam.pvalue.TaggedOutput(ERRORS, error_row(path, STAGE, exc))

    def _emit(self, items):
        for item in items:
            if isinstance(item, Document):
                self.documents.inc()
                yield item
            else:
                self.errors.inc()
                yield beam.pvalue.TaggedOutput(ERRORS, item["error"])


class ReadDocuments(beam.PTransform):
    """File patterns -> documents (main output) and error rows (``errors``).

    ``matcher``: a transform from the pipeline's start to ``FileMetadata`` used
    instead of matching ``patterns`` once (e.g. ``fileio.MatchContinuously``).
    ``spread``: how files reach the workers that read them: ``"bins"`` of equal bytes
    (batch on runners that split work statically), ``"reshuffle"`` (runners that
    rebalance, streaming), ``"none"`` (one worker: the read fuses with what follows).
    """

    SPREADS = ("bins", "reshuffle", "none")

    def __init__(self, patterns: list[str], max_document_bytes: int,
                 file_filter: beam.PTransform | None = None,
                 matcher: beam.PTransform | None = None, spread: str = "bins"):
        super().__init__()
        if spread not in self.SPREADS:
            raise ValueError(f"spread must be one of {self.SPREADS}, not {spread!r}")
        self.spread = spread
        self.patterns = [expand_input(p) for p in patterns]
        self.max_document_bytes = max_document_bytes
        self.file_filter = file_filter  # e.g. incremental runs skip known files
        self.matcher = matcher

    def expand(self, pbegin):
        if self.matcher is not None:
            matched = pbegin | "Match" >> self.matcher
        else:
            matched = (pbegin | "Patterns" >> beam.Create(self.patterns)
                       | "Match" >> fileio.MatchAll())
        if self.file_filter is not None:
            matched = matched | "FilterFiles" >> self.file_filter
        if self.spread == "bins":
            spread = (matched
                      | "Spread" >> BalancedGroups(lambda m: m.path, file_weight,
                                                   FILE_BIN_BYTES, FILE_BIN_SIZE)
                      | "Files" >> beam.FlatMap(lambda group: group[1]))
        elif self.spread == "reshuffle":
            spread = matched | "Spread" >> beam.Reshuffle()
        else:
            spread = matched
        read = (
            spread
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(ReadFileFn(self.max_document_bytes)).with_outputs(
                ERRORS, main="documents"))
        # Files are spread over workers (above, in bins of equal bytes); the documents of one file stay with
        # the worker that reads it, so raw pages are never shuffled (or held by the
        # runner between stages). Articles are spread again by deduplication.
        return {"documents": read.documents, ERRORS: read[ERRORS], "files": matched}
