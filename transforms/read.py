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
import zlib
from typing import IO, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.layout import ERRORS
from transforms.errors import DocumentError, error_row
from transforms.formats.decode import charset_from_content_type
from transforms.shaping.balance import BalancedGroups

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


# What a truncated or corrupt gzip stream raises while being read.
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def iter_html_file(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """One document: the whole (optionally gzipped) file."""
    try:
        raw = read_capped(_maybe_gunzip(path, stream), limit, path)
    except _GZIP_ERRORS as exc:
        raise BadRecord(f"truncated or corrupt gzip file: {type(exc).__name__}: {exc}") from None
    yield {"source": path, "input_format": "html", "raw": raw}


def _parse_warc_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return None


class _CountingReader:
    """A read-only stream that counts the bytes taken from it (for warcio's
    offsets when the stream cannot seek)."""

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
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_LINE = b"\nWARC/1."


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except Exception:
        return False


def _find_record(stream: IO[bytes], start: int, gzipped: bool) -> int | None:
    """Offset of the next possible record start at or after ``start``: a gzip
    member header, or a ``WARC/1.x`` line; None at the end of the file."""
    magic = _GZIP_MAGIC if gzipped else _WARC_LINE
    skip = 0 if gzipped else 1  # a WARC line starts after its newline
    stream.seek(max(start - skip, 0))
    base, tail = max(start - skip, 0), b""
    while chunk := stream.read(1 << 20):
        data = tail + chunk
        found = data.find(magic)
        if found >= 0:
            return base - len(tail) + found + skip
        tail = data[-(len(magic) - 1):]
        base += len(chunk)
    return None


def _printable(text: str, limit: int = 200) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _warc_records(path: str, records, limit: int, stats: dict) -> Iterator[dict]:
    """Documents, per-record error items and a ``{"record_at": offset}`` marker
    before each record, for one ``ArchiveIterator`` pass."""
    for record in records:
        stats["read"] += 1
        yield {"record_at": records.offset, "overran": records.err_count}
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
            missing = getattr(record.raw_stream, "limit", 0)
            if missing > 0 and not record.raw_stream.read(1):  # the file ended inside it
                raise BadRecord(f"truncated record: the last {missing:,} of its "
                                f"{record.length:,} bytes are missing")
            stats["done"] += 1
            yield {"source": source, "input_format": "warc", "raw": raw,
                   "url": record.rec_headers.get_header("WARC-Target-URI"),
                   "http_charset": charset_from_content_type(content_type),
                   "fetched_at": _parse_warc_date(record.rec_headers.get_header("WARC-Date"))}
        except Exception as exc:  # one bad record costs that record
            stats["reported"] = records.offset
            yield {"error": error_row(source, STAGE, exc)}


def iter_warc(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """HTML ``response`` records of a WARC file; other records are skipped.

    Yields documents, and ``{"error": row}`` items for records that fail. A
    corrupt stretch of the file (unreadable record, broken gzip member, garbage)
    becomes one error row, and reading resumes at the next gzip member header
    (``.warc.gz`` with one member per record, the norm) or ``WARC/1.x`` line
    (plain ``.warc``). A truncated tail becomes an error row. Without a seekable
    stream, or in a ``.warc.gz`` compressed as one gzip member, nothing after the
    damage can be recovered.
    """
    from warcio.archiveiterator import ArchiveIterator  # lazy: workers only

    seekable, gzipped, size = _seekable(stream), False, 0
    if seekable:
        gzipped = stream.read(2) == _GZIP_MAGIC[:2]
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
    else:
        stream = _CountingReader(stream)
    stats = {"done": 0, "read": 0, "reported": None}
    bad_since, reason = None, ""

    def corrupt(until: int | None) -> dict:
        end = "the end of the file" if until is None else f"byte {until:,}"
        code = "TruncatedWarc" if until is None else "CorruptWarcRecord"
        what = ("truncated or corrupt" if until is None
                else "not a readable WARC record; reading resumed after it")
        return {"error": error_row(
            f"{path}@{bad_since}", STAGE, code,
            f"bytes {bad_since:,} to {end} are {what} ({reason}); "
            f"{stats['done']} response records before it were read")}

    while True:
        records = ArchiveIterator(stream, check_digests=False)
        read_before, failed_at, last_at = stats["read"], None, None
        try:
            for item in _warc_records(path, records, limit, stats):
                if "record_at" not in item:
                    yield item
                    continue
                if item["overran"] and last_at is not None and not gzipped and seekable:
                    # The previous record was not followed by a blank line: its
                    # Content-Length is wrong and it may have swallowed records.
                    swallowed = _swallowed(stream, last_at, item["record_at"])
                    yield {"error": error_row(
                        f"{path}@{last_at}", STAGE, "CorruptWarcRecord",
                        f"the record at byte {last_at:,} is not followed by a blank line "
                        f"(wrong Content-Length); its content may include the next record")}
                    if swallowed is not None:
                        raise _Resume(swallowed)
                    records.err_count = 0
                if bad_since is not None:  # a record read again: the damage ended here
                    yield corrupt(item["record_at"])
                    bad_since = None
                last_at = item["record_at"]
            records.read_to_end()
            end = sum(records.member_info) if records.member_info else records.offset
            total = size if seekable else stream.consumed + _drain(stream)
            if total - end <= _WARC_TRAILING_SLACK:
                break
            failed_at, why = end, f"{total - end:,} bytes warcio could not read"
        except _Resume as resume:
            stream.seek(resume.offset)
            continue
        except Exception as exc:
            failed_at = records.offset
            why = f"{type(exc).__name__}: {_printable(str(exc))}"
            if stats["read"] > read_before and stats["reported"] == failed_at:
                why = None  # that record already has its error row
        # In a plain WARC the last good record may have swallowed the next ones
        # (Content-Length too large): look for them inside it.
        after = last_at if last_at is not None and not gzipped else failed_at
        nxt = _find_record(stream, after + 1, gzipped) if seekable else None
        if nxt is None:
            if bad_since is None and why is not None:
                bad_since, reason = failed_at, why
            break
        if nxt < failed_at:
            yield {"error": error_row(
                f"{path}@{last_at}", STAGE, "CorruptWarcRecord",
                f"the record at byte {last_at:,} runs into the next one (wrong "
                f"Content-Length; its content has junk at the end); reading resumed at "
                f"byte {nxt:,}" + (f" ({why})" if why else ""))}
        elif bad_since is None and why is not None:
            bad_since, reason = failed_at, why
        stream.seek(nxt)
    if bad_since is not None:
        yield corrupt(None)


class _Resume(Exception):
    """Restart reading a WARC at ``offset``."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


def _swallowed(stream: IO[bytes], start: int, current: int) -> int | None:
    """Where a ``WARC/1.x`` line inside the record at ``start`` begins, when it is
    before ``current`` (the record warcio read next); the stream is left as found."""
    here = stream.tell()
    found = _find_record(stream, start + 1, gzipped=False)
    stream.seek(here)
    return found if found is not None and found < current else None


def _drain(stream) -> int:
    """Bytes left in a stream (read and dropped)."""
    rest = 0
    while chunk := stream.read(1 << 20):
        rest += len(chunk)
    return rest


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(number, line, size)`` per line, reading at most ``limit + 1`` bytes at a
    time: a longer line comes out as ``None`` and is skipped in 1 MB steps."""
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) <= limit or line.endswith(b"\n"):
            yield number, line, len(line)
            continue
        size = len(line)
        while (rest := stream.readline(1 << 20)):
            size += len(rest)
            if rest.endswith(b"\n"):
                break
        yield number, None, size


def _jsonl_document(source: str, line: bytes) -> dict:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise BadRecord(f"invalid JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
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
    return doc


def iter_jsonl(path: str, stream: IO[bytes], limit: int) -> Iterator[dict]:
    """One document per JSON object line carrying ``html`` or ``text``.

    A bad line costs that line. A truncated or corrupt ``.gz`` costs the lines
    after the damage (one error row): a gzip stream cannot be resumed.
    """
    number = 0
    try:
        for number, line, size in _lines(_maybe_gunzip(path, stream), limit):
            source = f"{path}:{number}"
            if line is not None and not line.strip():
                continue
            try:
                if line is None:
                    raise TooLarge(f"line of {size:,} bytes, larger than the {limit:,}-byte "
                                   f"cap (--max_document_bytes)")
                yield _jsonl_document(source, line)
            except Exception as exc:
                yield {"error": error_row(source, STAGE, exc)}
    except _GZIP_ERRORS as exc:
        yield {"error": error_row(
            f"{path}:{number + 1}", STAGE, "TruncatedFile",
            f"truncated or corrupt gzip after line {number:,} ({type(exc).__name__}: {exc}); "
            f"the lines before it were read, the rest of the file is lost")}


READERS = {"html": iter_html_file, "warc": iter_warc, "jsonl": iter_jsonl}

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
    """File patterns -> documents (main output) and error rows (``errors``).

    ``matcher``: a transform from the pipeline's start to ``FileMetadata`` used
    instead of matching ``patterns`` once (e.g. ``fileio.MatchContinuously``).
    """

    def __init__(self, patterns: list[str], max_document_bytes: int,
                 file_filter: beam.PTransform | None = None,
                 matcher: beam.PTransform | None = None, balance: bool = True):
        super().__init__()
        self.balance = balance  # bins of equal bytes (batch); else a Reshuffle
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
        if self.balance:
            spread = (matched
                      | "Spread" >> BalancedGroups(lambda m: m.path, file_weight,
                                                   FILE_BIN_BYTES, FILE_BIN_SIZE)
                      | "Files" >> beam.FlatMap(lambda group: group[1]))
        else:
            spread = matched | "Spread" >> beam.Reshuffle()
        read = (
            spread
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(ReadFileFn(self.max_document_bytes)).with_outputs(
                ERRORS, main="documents"))
        # Files are spread over workers (above, in bins of equal bytes); the documents of one file stay with
        # the worker that reads it, so raw pages are never shuffled (or held by the
        # runner between stages). Articles are spread again by deduplication.
        return {"documents": read.documents, ERRORS: read[ERRORS], "files": matched}
