"""WARC crawls: the HTML ``response`` records, with recovery from damage, no Beam.

``WarcReader`` yields ``Document`` records, and ``{"error": row}`` items for records that
fail. A corrupt stretch of the file (unreadable record, broken gzip member,
garbage) becomes one error row, and reading resumes at the next gzip member
header (``.warc.gz`` with one member per record, the norm) or ``WARC/1.x`` line
(plain ``.warc``). A truncated tail becomes an error row. Without a seekable
stream, or in a ``.warc.gz`` compressed as one gzip member, nothing after the
damage can be recovered. Records it skips (not responses, not HTML) are counted
in ``skipped``; the Beam stage turns them into counters.
"""
from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import IO, Iterator

from transforms.errors import error_row
from transforms.formats.decode import charset_from_content_type
from transforms.formats.document import Document
from transforms.formats.records import STAGE, BadRecord, read_capped

HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
# Bytes after the last complete record tolerated as padding.
_WARC_TRAILING_SLACK = 64
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_LINE = b"\nWARC/1."


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


def _printable(text: str, limit: int = 200) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


class _Resume(Exception):
    """Restart reading a WARC at ``offset``."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


class WarcReader:
    """The HTML ``response`` records of one WARC file (see the module's docstring).

    Iterate it once. Reading goes in passes of warcio's ``ArchiveIterator``; after
    damage the reader looks for the next record start and begins a new pass there.
    """

    def __init__(self, path: str, stream: IO[bytes], limit: int):
        self.path, self.limit = path, limit
        self.seekable, self.gzipped, self.size = _seekable(stream), False, 0
        if self.seekable:
            self.gzipped = stream.read(2) == _GZIP_MAGIC[:2]
            self.size = stream.seek(0, io.SEEK_END)
            stream.seek(0)
        else:
            stream = _CountingReader(stream)
        self.stream = stream
        self.skipped: Counter[str] = Counter()  # counter name -> records skipped
        self.records_read = self.responses_read = 0
        self.reported: int | None = None  # offset of the last record given an error row
        self.bad_since: int | None = None  # start of a damaged stretch not yet reported
        self.reason = ""
        self.last_at: int | None = None  # the last record start of this pass

    def __iter__(self) -> Iterator[Document | dict]:
        from warcio.archiveiterator import ArchiveIterator  # lazy: workers only

        while True:
            records = ArchiveIterator(self.stream, check_digests=False)
            try:
                failure = yield from self._read_pass(records)
            except _Resume as resume:
                self.stream.seek(resume.offset)
                continue
            if failure is None:
                break
            resume_at = yield from self._resync(*failure)
            if resume_at is None:
                break
            self.stream.seek(resume_at)
        if self.bad_since is not None:
            yield self._corrupt(None)

    # ------------------------------------------------------------------ one pass

    def _read_pass(self, records) -> Iterator[Document | dict]:
        """Items of one ``ArchiveIterator`` pass; returns None when the file ended
        cleanly, else ``(offset, why)`` of the damage (``why`` None when that record
        already has its error row)."""
        read_before, self.last_at = self.records_read, None
        try:
            for record in records:
                yield from self._at_record_start(records)
                yield from self._record(record, records)
            records.read_to_end()
            end = sum(records.member_info) if records.member_info else records.offset
            total = self.size if self.seekable else self.stream.consumed + _drain(self.stream)
            if total - end <= _WARC_TRAILING_SLACK:
                return None
            return end, f"{total - end:,} bytes warcio could not read"
        except _Resume:
            raise
        except Exception as exc:
            why = f"{type(exc).__name__}: {_printable(str(exc))}"
            if self.records_read > read_before and self.reported == records.offset:
                why = None  # that record already has its error row
            return records.offset, why

    def _at_record_start(self, records) -> Iterator[dict]:
        """Before each record: report a wrong Content-Length of the previous record
        (resuming inside it when it swallowed this one), and close a damaged stretch."""
        self.records_read += 1
        at = records.offset
        if records.err_count and self.last_at is not None and not self.gzipped and self.seekable:
            # The previous record was not followed by a blank line: its
            # Content-Length is wrong and it may have swallowed records.
            swallowed = _swallowed(self.stream, self.last_at, at)
            yield {"error": error_row(
                f"{self.path}@{self.last_at}", STAGE, "CorruptWarcRecord",
                f"the record at byte {self.last_at:,} is not followed by a blank line "
                f"(wrong Content-Length); its content may include the next record")}
            if swallowed is not None:
                raise _Resume(swallowed)
            records.err_count = 0
        if self.bad_since is not None:  # a record read again: the damage ended here
            yield self._corrupt(at)
            self.bad_since = None
        self.last_at = at

    def _record(self, record, records) -> Iterator[Document | dict]:
        """The document of an HTML response record, an error item, or nothing."""
        if record.rec_type != "response":
            self.skipped[f"warc_{record.rec_type}_records_skipped"] += 1
            return
        record_id = record.rec_headers.get_header("WARC-Record-ID") or f"offset-{records.offset}"
        source = f"{self.path}#{record_id}"
        try:
            document = self._response(record, source)
        except Exception as exc:  # one bad record costs that record
            self.reported = records.offset
            yield {"error": error_row(source, STAGE, exc)}
            return
        if document is None:
            self.skipped["warc_non_html_responses_skipped"] += 1
            return
        self.responses_read += 1
        yield document

    def _response(self, record, source: str) -> Document | None:
        """The document of a response record; None when it is not HTML."""
        http = record.http_headers
        content_type = http.get_header("Content-Type") if http else None
        mime = (content_type or "").split(";")[0].strip().lower()
        if mime and mime not in HTML_TYPES:
            return None
        raw = read_capped(record.content_stream(), self.limit, source)
        missing = getattr(record.raw_stream, "limit", 0)
        if missing > 0 and not record.raw_stream.read(1):  # the file ended inside it
            raise BadRecord(f"truncated record: the last {missing:,} of its "
                            f"{record.length:,} bytes are missing")
        return Document(source, "warc", raw=raw,
                        url=record.rec_headers.get_header("WARC-Target-URI"),
                        http_charset=charset_from_content_type(content_type),
                        fetched_at=_parse_warc_date(record.rec_headers.get_header("WARC-Date")))

    # ------------------------------------------------------------------ damage

    def _resync(self, failed_at: int, why: str | None) -> Iterator[dict]:
        """Where to begin the next pass after damage at ``failed_at`` (None: give
        up), reporting a record that runs into the next one."""
        # In a plain WARC the last good record may have swallowed the next ones
        # (Content-Length too large): look for them inside it.
        after = self.last_at if self.last_at is not None and not self.gzipped else failed_at
        resume_at = _find_record(self.stream, after + 1, self.gzipped) if self.seekable else None
        if resume_at is not None and resume_at < failed_at:
            yield {"error": error_row(
                f"{self.path}@{self.last_at}", STAGE, "CorruptWarcRecord",
                f"the record at byte {self.last_at:,} runs into the next one (wrong "
                f"Content-Length; its content has junk at the end); reading resumed at "
                f"byte {resume_at:,}" + (f" ({why})" if why else ""))}
        elif self.bad_since is None and why is not None:
            self.bad_since, self.reason = failed_at, why
        return resume_at

    def _corrupt(self, until: int | None) -> dict:
        """The error item of the damaged stretch from ``bad_since`` to ``until``
        (None: the end of the file)."""
        end = "the end of the file" if until is None else f"byte {until:,}"
        code = "TruncatedWarc" if until is None else "CorruptWarcRecord"
        what = ("truncated or corrupt" if until is None
                else "not a readable WARC record; reading resumed after it")
        return {"error": error_row(
            f"{self.path}@{self.bad_since}", STAGE, code,
            f"bytes {self.bad_since:,} to {end} are {what} ({self.reason}); "
            f"{self.responses_read} response records before it were read")}


def iter_warc(path: str, stream: IO[bytes], limit: int) -> Iterator[Document | dict]:
    """HTML ``response`` records of a WARC file (``WarcReader``)."""
    return iter(WarcReader(path, stream, limit))
