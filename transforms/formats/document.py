"""The document: one page as a reader found it, before cleaning, no Beam.

Every reader (``html``, ``warc``, ``jsonl``, Kafka ``message``) yields ``Document``
records; ``transforms.formats.page.clean_document`` turns one into an article row.
A document holds exactly one body: the page's ``raw`` bytes (decoded by the clean
stage), its ``html`` as text (a JSONL line's or a JSON message's ``html``), or its
already extracted ``text`` (a JSONL line's ``text``).

A frozen, slotted dataclass: picklable, so Beam's default coder carries it between
stages (documents are never keys); plain values only, so it also crosses into the
budgeted child processes unchanged.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

# The fields a JSON object (a JSONL line, a JSON Kafka message) may set besides its body.
JSON_FIELDS = ("url", "title", "published", "author", "language")


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """``source``: where the page came from (a path, ``path#record-id``, ``path:line``,
    ``kafka://topic/partition/offset``); ``input_format``: ``html``, ``warc`` or
    ``jsonl``; one body (``raw``, ``html`` or ``text``); and the metadata its container
    carries (None where it carries none): the JSON fields ``url``, ``title``,
    ``published`` (a date string), ``author``, ``language`` (a declared code), and a
    WARC record's ``url``, ``http_charset`` and ``fetched_at``."""

    source: str
    input_format: str
    raw: bytes | None = None
    html: str | None = None
    text: str | None = None
    url: str | None = None
    title: str | None = None
    published: str | None = None
    author: str | None = None
    language: str | None = None
    http_charset: str | None = None
    fetched_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        bodies = sum(body is not None for body in (self.raw, self.html, self.text))
        if bodies != 1:
            raise ValueError(f"a Document holds exactly one of raw, html and text "
                             f"({bodies} given, source {self.source!r})")
