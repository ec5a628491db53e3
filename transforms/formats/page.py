"""One page -> one article row: decode the bytes, extract the main text and
metadata with trafilatura, identify the language, hash the text.

Plain functions, no Beam (``transforms.clean`` wires them into the pipeline), so
the budgeted child processes that run ``extract`` never import Beam.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from typing import Callable

from transforms.formats.decode import decode_html, looks_binary
from transforms.formats.document import Document
from transforms.formats.language import declared_code, identify_language
from transforms.errors import DocumentError

_SPACES = re.compile(r"\s+")


class NoMainText(DocumentError):
    code = "NoMainText"


class NotText(DocumentError):
    code = "NotText"


def content_hash(text: str) -> str:
    """Hash of the text with case, Unicode form and whitespace normalised."""
    norm = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]


def article_id(text: str) -> str:
    """Stable id of an article: a hash of its exact cleaned text.

    The same page read as an HTML file, a WARC record or a JSONL line gets the
    same id; within a run ids are unique because duplicates are dropped.
    """
    return hashlib.sha256(b"article\0" + text.encode("utf-8")).hexdigest()[:32]


def parse_date(value: str | None) -> dt.date | None:
    """A date from an ISO-like string (``2026-03-04``, ``2026-03-04T10:00Z``)."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def detect_language(text: str, fallback: str | None = None) -> str | None:
    """ISO 639-1 code of a cleaned page's text (``transforms.formats.language``), or
    the page's own declaration (``<html lang>``) when the text has no letters."""
    return identify_language(text) or declared_code(fallback)


def _normalise_text(text: str) -> str:
    lines = (line.strip() for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


# The fields of trafilatura's result that an article row uses (plain values only,
# so a result can cross a process boundary).
_FIELDS = ("url", "title", "author", "date", "sitename", "hostname", "description",
           "categories", "tags", "language", "text")


def quiet_logging() -> None:
    """Failures become error rows; trafilatura's own log lines would only repeat them."""
    import logging
    for name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


WARM_UP_PAGE = ("<html><head><title>Warm-up</title></head><body><article><p>"
                + "The council met on Tuesday and agreed the budget for the new year. " * 4
                + "</p></article></body></html>")


def warm_up() -> None:
    """A worker child's setup done ahead (``transforms.sandbox.zygote`` preload): trafilatura
    and the language model imported and run once, so their lazy loads are not
    charged to a page's budget."""
    quiet_logging()
    extract(WARM_UP_PAGE, None)
    detect_language(WARM_UP_PAGE)  # py3langid loads its model on first use


def main_text(text: str) -> str:
    """Extracted text in the form ``articles.text`` keeps: NFC, lines stripped,
    no empty lines."""
    return _normalise_text(unicodedata.normalize("NFC", text))


# Class names of widgets that pop up over a name in running text (hover cards,
# tooltips): their text is not the article's ("Kristi NoemKristi Lynn NoemSouth...").
_WIDGET_CLASS = re.compile(r"tooltip|popover|popup|hover-?card|rollover", re.I)
# What every such class name holds, lower-cased: a substring scan of the page is
# far cheaper than the case-blind regex over all of it.
_WIDGET_WORDS = ("tooltip", "popover", "popup", "hover", "rollover")
_IN_TEXT_WIDGETS = "//p//*[self::span or self::div or self::aside or self::section][@class]"


def drop_hover_cards(html: str):
    """``html`` as trafilatura's input with hover-card and tooltip widgets inside
    paragraphs removed: an innermost element whose class names such a widget and that
    holds a picture or several links (the name it pops up from stays). Pages without
    such class names are returned unchanged, unparsed."""
    low = html.lower()
    if not any(word in low for word in _WIDGET_WORDS):
        return html
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return html
    # Only widgets inside a paragraph count; a widget's descendants are inside it too.
    widgets = [el for el in tree.xpath(_IN_TEXT_WIDGETS) if _WIDGET_CLASS.search(el.get("class"))]
    marked = {id(el) for el in widgets}
    for el in widgets:
        inner = any(id(d) in marked for d in el.iterdescendants())
        if not inner and (el.find(".//img") is not None or len(el.findall(".//a")) >= 2):
            _drop_keeping_tail(el)
    return tree


def _drop_keeping_tail(el) -> None:
    """Remove ``el`` from its tree; the text after it stays where it was."""
    parent, prev = el.getparent(), el.getprevious()
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def extract(html: str, url: str | None) -> dict | None:
    """trafilatura's main text (as ``main_text``) and metadata for one page, and
    the text's language (``detected_language``), or None. The target of the
    budgeted child process, so language identification runs there too."""
    import trafilatura

    result = trafilatura.bare_extraction(
        drop_hover_cards(html), url=url, with_metadata=True, include_comments=False,
        include_tables=False, deduplicate=False)
    if result is None:
        return None
    found = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    meta = {k: found.get(k) for k in _FIELDS}
    meta["text"] = main_text(meta["text"] or "")
    meta["detected_language"] = detect_language(meta["text"], meta.get("language"))
    return meta


def _strings(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v and v.strip()]


def clean_document(doc: Document, min_chars: int = 0,
                   extractor: Callable[[str, str | None], dict | None] = extract,
                   language: str | None = None) -> dict:
    """An article row (``schemas.ARTICLES`` without ``ingested_at``) from a ``Document``.

    Raises ``NotText`` for binary content and ``NoMainText`` when no text is found, or
    when trafilatura's main text of an HTML page is shorter than ``min_chars``. A
    ``text`` record is already extracted text: it is kept however short. ``language``
    (``--language``) declares the language of every document; a record's own
    ``language`` field wins over it, and either wins over detection. ``extractor`` is
    ``extract`` or a time-budgeted stand-in for it (see ``CleanFn``).
    """
    encoding = None
    meta: dict = {}
    if doc.text is not None:  # JSONL with extracted text
        text = main_text(doc.text)
        if not text:
            raise NoMainText("the record's text is empty (only whitespace)")
    else:
        html, encoding = _page_html(doc)
        meta = extractor(html, doc.url) or {}
        text = meta.get("text") or ""
        _check_main_text(text, min_chars)
    declared = declared_code(doc.language) or declared_code(language)
    return {
        "article_id": article_id(text),
        "source": doc.source,
        "input_format": doc.input_format,
        "url": meta.get("url") or doc.url,
        "title": doc.title or meta.get("title"),
        "author": doc.author or meta.get("author"),
        "published": parse_date(doc.published or meta.get("date")),
        "sitename": meta.get("sitename"),
        "hostname": meta.get("hostname") or _hostname(doc.url),
        "description": meta.get("description"),
        "categories": _strings(meta.get("categories")),
        "tags": _strings(meta.get("tags")),
        "language": declared or (meta["detected_language"] if "detected_language" in meta
                                 else detect_language(text, meta.get("language"))),
        "encoding": encoding,
        "text": text,
        "word_count": len(text.split()),
        "content_hash": content_hash(text),
        "nlp_status": None,
        "fetched_at": doc.fetched_at,
    }


def _page_html(doc: Document) -> tuple[str, str | None]:
    """The page's HTML and the encoding its bytes were decoded with (None: given as text)."""
    if doc.html is not None:
        return doc.html, None
    raw = doc.raw or b""
    if not raw.strip():
        raise NoMainText("empty document")
    if looks_binary(raw):
        raise NotText("binary content (control bytes), not an HTML page")
    return decode_html(raw, doc.http_charset)


def _check_main_text(text: str, min_chars: int) -> None:
    if not text:
        raise NoMainText("trafilatura found no main text in the page "
                         "(navigation-only, empty or not an article)")
    if len(text) < min_chars:
        raise NoMainText(f"trafilatura's main text of the page has {len(text)} characters, "
                         f"fewer than --min_text_chars {min_chars} (a navigation or index "
                         f"page, or a stub; lower --min_text_chars to keep such pages)")


def _hostname(url: str | None) -> str | None:
    """Host of ``url`` (text records carry no trafilatura metadata)."""
    from urllib.parse import urlsplit
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:
        return None
