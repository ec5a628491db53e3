"""A ``Doc``'s text, joined once.

``Doc.text`` joins every token each time it is read; the extractors read it many
times per article (per mention, per quote). The parse remembers the text it was
given (spaCy keeps it verbatim: ``doc.text == text``), and ``doc_text`` reads that,
or joins once and keeps the result.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc

TEXT_KEY = ("news", "doc_text")  # doc.user_data key of the text


def remember_text(doc: "Doc", text: str) -> "Doc":
    """Keep ``text`` (what ``doc`` was parsed from) for ``doc_text``."""
    doc.user_data[TEXT_KEY] = text
    return doc


def doc_text(doc: "Doc") -> str:
    """``doc.text``, joined at most once per ``Doc``."""
    text = doc.user_data.get(TEXT_KEY)
    if text is None:
        text = doc.user_data[TEXT_KEY] = doc.text
    return text
