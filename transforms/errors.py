"""Error rows: every document that does not become an article says why here."""
from __future__ import annotations

import traceback

# Output tag under which every stage emits its error rows: the errors table's name.
from schemas.layout import ERRORS  # noqa: F401  (re-exported for the stages)

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
