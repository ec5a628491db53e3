"""Kafka messages: one message value to one document, no Beam.

A value is a page: raw HTML bytes (decoded later, like an HTML file), or a JSON object
with ``html`` or ``text`` and optional ``url``, ``title``, ``published``, ``author``,
``language`` (like a JSONL line). The key, if any, is the publisher's id for the page:
when it is an http(s) URL and the value names none, it is the page's ``url``.
Every message's ``source`` is ``kafka://TOPIC/PARTITION/OFFSET``.
"""
from __future__ import annotations

import codecs
import dataclasses
import re

from transforms.formats.document import Document
from transforms.formats.jsonl import json_document
from transforms.formats.records import BadRecord, TooLarge

SCHEME = "kafka://"
_SOURCE = re.compile(r"^kafka://(?P<topic>[^/]+)/(?P<partition>\d+)/(?P<offset>\d+)$")
_WHITESPACE = b" \t\r\n" + codecs.BOM_UTF8


def message_source(topic: str, partition: int, offset: int) -> str:
    return f"{SCHEME}{topic}/{partition}/{offset}"


def parse_source(source: str) -> tuple[str, int, int] | None:
    """``(topic, partition, offset)`` of a ``kafka://`` source, None for any other."""
    match = _SOURCE.match(source)
    return (match["topic"], int(match["partition"]), int(match["offset"])) if match else None


class EmptyMessage(BadRecord):
    code = "EmptyMessage"


def message_document(source: str, key: bytes | None, value: bytes | None, limit: int) -> Document:
    """The ``Document`` of one message value; raises ``EmptyMessage``, ``TooLarge`` (over
    ``limit`` bytes, ``--max_document_bytes``) or ``BadRecord`` (a JSON value that is
    no page)."""
    if not value:
        raise EmptyMessage("the message has no value (empty or null)")
    if len(value) > limit:
        raise TooLarge(f"message value of {len(value):,} bytes, larger than the {limit:,}-byte "
                       f"cap (--max_document_bytes)")
    if value.lstrip(_WHITESPACE)[:1] == b"{":
        doc = json_document(source, value.lstrip(codecs.BOM_UTF8))
    else:
        doc = Document(source, "html", raw=value)
    url = key_url(key)
    if url and not doc.url:
        doc = dataclasses.replace(doc, url=url)
    return doc


def key_url(key: bytes | None) -> str | None:
    """The key as a URL, when it is one."""
    if not key:
        return None
    try:
        text = key.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return text if re.match(r"^https?://\S+$", text) else None
