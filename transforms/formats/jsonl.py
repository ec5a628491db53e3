"""JSONL dumps: one document per JSON object line, no Beam."""
from __future__ import annotations

import json
from typing import IO, Iterator

from transforms.errors import error_row
from transforms.formats.document import JSON_FIELDS, Document
from transforms.formats.records import GZIP_ERRORS, STAGE, BadRecord, TooLarge, maybe_gunzip


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


def json_document(source: str, line: bytes) -> Document:
    """One JSON object carrying ``html`` or ``text`` (a JSONL line, a Kafka message) as a
    document; ``BadRecord`` when it is none."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise BadRecord(f"invalid JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise BadRecord(f"line is a JSON {type(obj).__name__}, not an object")
    html, text = obj.get("html"), obj.get("text")
    if not isinstance(html, str) and not isinstance(text, str):
        raise BadRecord("object has neither an 'html' nor a 'text' string")
    body = {"html": html} if isinstance(html, str) else {"text": text}
    fields = {key: obj[key] for key in JSON_FIELDS if isinstance(obj.get(key), str)}
    return Document(source, "jsonl", **body, **fields)


def iter_jsonl(path: str, stream: IO[bytes], limit: int) -> Iterator[Document | dict]:
    """One document per JSON object line carrying ``html`` or ``text``.

    A bad line costs that line. A truncated or corrupt ``.gz`` costs the lines
    after the damage (one error row): a gzip stream cannot be resumed.
    """
    number = 0
    try:
        for number, line, size in _lines(maybe_gunzip(path, stream), limit):
            source = f"{path}:{number}"
            if line is not None and not line.strip():
                continue
            try:
                if line is None:
                    raise TooLarge(f"line of {size:,} bytes, larger than the {limit:,}-byte "
                                   f"cap (--max_document_bytes)")
                yield json_document(source, line)
            except Exception as exc:
                yield {"error": error_row(source, STAGE, exc)}
    except GZIP_ERRORS as exc:
        yield {"error": error_row(
            f"{path}:{number + 1}", STAGE, "TruncatedFile",
            f"truncated or corrupt gzip after line {number:,} ({type(exc).__name__}: {exc}); "
            f"the lines before it were read, the rest of the file is lost")}
