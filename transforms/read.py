"""Read documents: HTML files, WARC response records and JSONL lines (the Beam stage).

The formats themselves are read by Beam-free readers in ``transforms.formats``
(``html``, ``warc``, ``jsonl``). Every document comes out as a
``transforms.formats.document.Document`` (``source``, ``input_format``, one body:
``raw`` bytes, ``html`` text or extracted ``text``, and whatever metadata the
container carries). A record that
cannot be read becomes an error row; it never costs the rest of its file.
"""
from __future__ import annotations

import dataclasses
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


# How files reach the workers that read them (``ReadConfig.spread``).
SPREADS = ("bins", "reshuffle", "none")


@dataclasses.dataclass(frozen=True)
class ReadConfig:
    """The read stage's settings (built from the options by ``pipeline.build.read_config``;
    the options' defaults: ``pipeline.flags``).

    ``patterns``: files, directories or globs to match once (``--input``);
    ``max_document_bytes``: the size cap of one document (``--max_document_bytes``);
    ``spread``: how files reach the workers that read them: ``"bins"`` of equal bytes
    (batch on runners that split work statically), ``"reshuffle"`` (runners that
    rebalance, streaming), ``"none"`` (one worker: the read fuses with what follows);
    ``file_filter``: a transform of the matched ``FileMetadata`` (e.g. incremental runs
    skip known files); ``matcher``: a transform from the pipeline's start to
    ``FileMetadata`` used instead of matching ``patterns`` once (e.g. the watch).
    """

    patterns: tuple[str, ...]
    max_document_bytes: int
    spread: str
    file_filter: beam.PTransform | None = None
    matcher: beam.PTransform | None = None

    def __post_init__(self) -> None:
        if self.spread not in SPREADS:
            raise ValueError(f"spread must be one of {SPREADS}, not {self.spread!r}")


class ReadDocuments(beam.PTransform):
    """File patterns -> documents (main output) and error rows (``errors``), as
    ``ReadConfig`` says."""

    def __init__(self, config: ReadConfig):
        super().__init__()
        self.config = config
        self.patterns = [expand_input(p) for p in config.patterns]

    def expand(self, pbegin):
        config = self.config
        if config.matcher is not None:
            matched = pbegin | "Match" >> config.matcher
        else:
            matched = (pbegin | "Patterns" >> beam.Create(self.patterns)
                       | "Match" >> fileio.MatchAll())
        if config.file_filter is not None:
            matched = matched | "FilterFiles" >> config.file_filter
        if config.spread == "bins":
            spread = (matched
                      | "Spread" >> BalancedGroups(lambda m: m.path, file_weight,
                                                   FILE_BIN_BYTES, FILE_BIN_SIZE)
                      | "Files" >> beam.FlatMap(lambda group: group[1]))
        elif config.spread == "reshuffle":
            spread = matched | "Spread" >> beam.Reshuffle()
        else:
            spread = matched
        read = (
            spread
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(ReadFileFn(config.max_document_bytes)).with_outputs(
                ERRORS, main="documents"))
        # Files are spread over workers (above, in bins of equal bytes); the documents of one file stay with
        # the worker that reads it, so raw pages are never shuffled (or held by the
        # runner between stages). Articles are spread again by deduplication.
        return {"documents": read.documents, ERRORS: read[ERRORS], "files": matched}
