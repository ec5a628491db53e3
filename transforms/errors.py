"""Error rows: every document that does not become an article says why here."""
from __future__ import annotations

import traceback

_MAX_MESSAGE = 2000
_MAX_DETAIL = 4000


class DocumentError(Exception):
    """A document-level failure with a stable error code (the ``error`` column)."""

    code = "DocumentError"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


def error_row(source: str, stage: str, error: BaseException | str,
              message: str | None = None, article_id: str | None = None) -> dict:
    """A row of ``schemas.ERRORS`` (``ingested_at`` is filled in by the writer)."""
    detail = None
    if isinstance(error, BaseException):
        code = getattr(error, "code", None) or type(error).__name__
        message = message or str(error) or type(error).__name__
        if not isinstance(error, DocumentError):
            detail = "".join(traceback.format_exception(error))[-_MAX_DETAIL:]
    else:
        code = error
    return {"source": source, "stage": stage, "error": code,
            "message": (message or code)[:_MAX_MESSAGE],
            "article_id": article_id, "detail": detail}


def __getattr__(name: str):
    """``ERRORS`` (the output tag of every stage's error rows) lives in
    ``schemas.layout``; imported on demand so Beam-free children that raise
    ``DocumentError`` do not import pyarrow through ``schemas``."""
    if name == "ERRORS":
        from schemas.layout import ERRORS
        return ERRORS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
