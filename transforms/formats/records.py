"""What every reader shares, no Beam: the size cap, gzip, and the readers' errors.

A reader is ``iter_x(path, stream, limit)`` yielding documents
(``transforms.formats.document.Document``) and
``{"error": row}`` items for records that fail.
"""
from __future__ import annotations

import gzip
import zlib
from typing import IO

from transforms.errors import DocumentError

# The stage a reader's error rows belong to.
STAGE = "read"


class UnsupportedFormat(DocumentError):
    code = "UnsupportedFormat"


class TooLarge(DocumentError):
    code = "TooLarge"


class BadRecord(DocumentError):
    code = "BadRecord"


def read_capped(stream: IO[bytes], limit: int, source: str) -> bytes:
    """Read a whole stream, refusing anything over ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"document larger than the {limit:,}-byte cap "
                       f"(--max_document_bytes) in {source}")
    return data


def maybe_gunzip(path: str, stream: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=stream) if path.lower().endswith(".gz") else stream


# What a truncated or corrupt gzip stream raises while being read.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


