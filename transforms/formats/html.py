"""HTML files: one page per (optionally gzipped) file, no Beam."""
from __future__ import annotations

from typing import IO, Iterator

from transforms.formats.document import Document
from transforms.formats.records import GZIP_ERRORS, BadRecord, maybe_gunzip, read_capped


def iter_html_file(path: str, stream: IO[bytes], limit: int) -> Iterator[Document]:
    """One document: the whole (optionally gzipped) file."""
    try:
        raw = read_capped(maybe_gunzip(path, stream), limit, path)
    except GZIP_ERRORS as exc:
        raise BadRecord(f"truncated or corrupt gzip file: {type(exc).__name__}: {exc}") from None
    yield Document(path, "html", raw=raw)
