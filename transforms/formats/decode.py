"""Turn raw page bytes into text, deliberately: HTTP header charset, then the
page's own declaration, then detection.

Handing trafilatura raw bytes lets it guess, and it guesses GBK and
windows-1251 pages into mojibake; so every page is decoded here first.
"""
from __future__ import annotations

import codecs
import re

import charset_normalizer

# WHATWG-style aliases: labels that browsers read as a superset encoding.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252",
    "iso-8859-9": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "shift_jis": "cp932",
    "x-sjis": "cp932", "big5": "big5hkscs",
}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
# Single-byte code pages of Latin script that detection confuses with windows-1252
# on short Western pages (German and Spanish text detects as cp1250, Italian as
# mac_latin2): where the bytes are valid windows-1252 too, windows-1252 is read,
# as a browser reads an undeclared page.
_LATIN_LOOKALIKES = frozenset({
    "cp1250", "iso8859-2", "mac-latin2", "cp1257", "iso8859-4", "iso8859-10",
    "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "iso8859-3", "cp1258",
    "cp775", "cp850", "cp852", "cp858", "cp437", "cp857", "hp-roman8", "mac-roman",
    "latin-1", "iso8859-1", "cp1254",
})
_DETECT_BYTES = 200_000
# How much of the page to scan for a <meta charset> (the spec says 1024 bytes;
# real pages put it later, after long <script> blocks).
_META_SCAN_BYTES = 16384


def normalise_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of an HTTP Content-Type header value."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def declared_charset(raw: bytes) -> str | None:
    """The charset a page declares in a <meta> tag, if any."""
    match = _META_CHARSET.search(raw[:_META_SCAN_BYTES])
    return match.group(1).decode("ascii", "ignore") if match else None


def _strict(raw: bytes, encoding: str | None) -> str | None:
    if not encoding:
        return None
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(raw: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns ``(text, encoding used)``.

    Order: byte-order mark, the HTTP header's charset, the page's meta charset,
    then charset_normalizer's detection. A declared charset is only trusted when
    the bytes decode cleanly with it. GB2312/GBK are read as GB18030, Latin-1 as
    windows-1252.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace"), encoding
    for label in (http_charset, declared_charset(raw)):
        encoding = normalise_charset(label)
        text = _strict(raw, encoding)
        if text is not None:
            return text, encoding
    text = _strict(raw, "utf-8")
    if text is not None:
        return text, "utf-8"
    encoding = detect_charset(raw)
    return raw.decode(encoding, errors="replace"), encoding


def detect_charset(raw: bytes) -> str:
    """charset_normalizer's guess for undeclared bytes, with windows-1252 preferred
    over a Latin-script look-alike (cp1250, mac_latin2, ...) whenever the bytes are
    valid windows-1252; windows-1252 when there is no guess."""
    best = charset_normalizer.from_bytes(raw[:_DETECT_BYTES]).best()
    encoding = normalise_charset(best.encoding if best else None) or "cp1252"
    if encoding in _LATIN_LOOKALIKES and _strict(raw, "cp1252") is not None:
        return "cp1252"
    return encoding


# C0 control bytes that text in no charset contains (tab, LF, FF, CR and ESC,
# used by ISO-2022, are allowed).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_SNIFF_BYTES = 8192
_BINARY_SHARE = 0.05


def looks_binary(raw: bytes) -> bool:
    """True for bytes that are no text in any charset: more than 5% control
    bytes in the first 8 KB. UTF-16 (a BOM, or every other byte NUL) is text."""
    head = raw[:_SNIFF_BYTES]
    if not head or any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    half = max(len(head) // 2, 1)
    even, odd = head[0::2].count(0) / half, head[1::2].count(0) / half
    if max(even, odd) > 0.4 and min(even, odd) < 0.1:
        return False  # UTF-16 without a byte-order mark
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls > _BINARY_SHARE * len(head)
