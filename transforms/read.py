"""Read documents: HTML files, WARC response records and JSONL lines.

Every document comes out as a plain dict (``source``, ``input_format``, and
either ``raw`` bytes, ``html`` text or extracted ``text``, plus whatever
metadata the container carries). A record that cannot be read becomes an
error row; it never costs the rest of its file.
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
from typing import IO, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.decode import charset_from_content_type
from transforms.errors import ERRORS, DocumentError, error_row

STAGE = "read"
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")


class UnsupportedFormat(DocumentError):
    code = "UnsupportedFormat"


class TooLarge(DocumentError):
    code = "TooLarge"


class BadRecord(DocumentError):
    code = "BadRecord"


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


def read_capped(stream: IO[bytes], limit: int, source: str) -> bytes:
    """Read a whole stream, refusing anything over ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"document larger than the {limit:,}-byte cap "
                       f"(--max_document_bytes) in {source}")
    return data


def _maybe_gunzip(path: str, stream: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=stream) if path.lower().endswith(".gz") else stream


def iter_html_file(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """One document: the whole (optionally gzipped) file."""
    raw = read_capped(_maybe_gunzip(path, stream), limit, path)
    yield {"source": path, "input_format": "html", "raw": raw}


def _parse_warc_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return None


class _CountingReader:
    """A read-only stream that counts the bytes taken from it."""

    def __init__(self, stream: IO[bytes]):
        self._stream, self.consumed = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self.consumed += len(data)
        return data

    def tell(self) -> int:
        return self.consumed


# Bytes after the last complete record tolerated as padding.
_WARC_TRAILING_SLACK = 64


def iter_warc(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """HTML ``response`` records of a WARC file; other records are skipped.

    Yields documents, and ``{"error": row}`` items for records that fail. A
    truncated or corrupt tail (which warcio silently ignores) becomes an error.
    """
    from warcio.archiveiterator import ArchiveIterator  # lazy: workers only

    counting = _CountingReader(stream)
    records = ArchiveIterator(counting, check_digests=False)
    done = 0
    try:
        for record in records:
            if record.rec_type != "response":
                Metrics.counter(STAGE, f"warc_{record.rec_type}_records_skipped").inc()
                continue
            record_id = record.rec_headers.get_header("WARC-Record-ID") or f"offset-{records.offset}"
            source = f"{path}#{record_id}"
            try:
                content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
                mime = (content_type or "").split(";")[0].strip().lower()
                if mime and mime not in HTML_TYPES:
                    Metrics.counter(STAGE, "warc_non_html_responses_skipped").inc()
                    continue
                raw = read_capped(record.content_stream(), limit, source)
                done += 1
                yield {"source": source, "input_format": "warc", "raw": raw,
                       "url": record.rec_headers.get_header("WARC-Target-URI"),
                       "http_charset": charset_from_content_type(content_type),
                       "fetched_at": _parse_warc_date(record.rec_headers.get_header("WARC-Date"))}
            except Exception as exc:  # one bad record costs that record
                yield {"error": error_row(source, STAGE, exc)}
        records.read_to_end()
        end = sum(records.member_info) if records.member_info else records.offset
        rest = 0  # whatever warcio gave up on
        while chunk := counting._stream.read(1 << 20):
            rest += len(chunk)
        unread = counting.consumed + rest - end
        if unread > _WARC_TRAILING_SLACK:
            yield {"error": error_row(
                f"{path}@{end}", STAGE, "TruncatedWarc",
                f"{unread:,} bytes after byte {end:,} are not a readable WARC record "
                f"(truncated or corrupt); {done} response records before it were read")}
    except Exception as exc:
        yield {"error": error_row(path, STAGE, exc, f"WARC unreadable after {done} "
                                  f"response records: {type(exc).__name__}: {exc}")}


def iter_jsonl(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """One document per JSON object line carrying ``html`` or ``text``."""
    lines = io.BufferedReader(_maybe_gunzip(path, stream)) if path.lower().endswith(".gz") else stream
    for number, line in enumerate(lines, start=1):
        source = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            if len(line) > limit:
                raise TooLarge(f"line larger than the {limit:,}-byte cap (--max_document_bytes)")
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise BadRecord(f"invalid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise BadRecord(f"line is a JSON {type(obj).__name__}, not an object")
            html, text = obj.get("html"), obj.get("text")
            if not isinstance(html, str) and not isinstance(text, str):
                raise BadRecord("object has neither an 'html' nor a 'text' string")
            doc = {"source": source, "input_format": "jsonl"}
            if isinstance(html, str):
                doc["html"] = html
            else:
                doc["text"] = text
            for key in ("url", "title", "published", "author"):
                if isinstance(obj.get(key), str):
                    doc[key] = obj[key]
            yield doc
        except Exception as exc:
            yield {"error": error_row(source, STAGE, exc)}


READERS = {"html": iter_html_file, "warc": iter_warc, "jsonl": iter_jsonl}


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
            with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as stream:
                for item in READERS[kind](path, stream, self.max_document_bytes):
                    if "error" in item:
                        self.errors.inc()
                        yield beam.pvalue.TaggedOutput(ERRORS, item["error"])
                    else:
                        self.documents.inc()
                        yield item
        except Exception as exc:
            self.errors.inc()
            yield beam.pvalue.TaggedOutput(ERRORS, error_row(path, STAGE, exc))


class ReadDocuments(beam.PTransform):
    """File patterns -> documents (main output) and error rows (``errors``)."""

    def __init__(self, patterns: list[str], max_document_bytes: int,
                 file_filter: beam.PTransform | None = None):
        super().__init__()
        self.patterns = [expand_input(p) for p in patterns]
        self.max_document_bytes = max_document_bytes
        self.file_filter = file_filter  # e.g. incremental runs skip known files

    def expand(self, pbegin):
        matched = pbegin | "Patterns" >> beam.Create(self.patterns) | "Match" >> fileio.MatchAll()
        if self.file_filter is not None:
            matched = matched | "FilterFiles" >> self.file_filter
        read = (
            matched
            | "Spread" >> beam.Reshuffle()
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(ReadFileFn(self.max_document_bytes)).with_outputs(
                ERRORS, main="documents"))
        # A WARC or JSONL file is read by one worker; spread its documents.
        return {"documents": read.documents | "SpreadDocuments" >> beam.Reshuffle(),
                ERRORS: read[ERRORS], "files": matched}
