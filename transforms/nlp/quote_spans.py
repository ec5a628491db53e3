"""Find double-quoted spans in plain text (no NLP): the first step of quote extraction.

Works paragraph by paragraph (a paragraph is one line). Curly marks are opening or
closing by shape; a straight ``"`` by its neighbours (space before: opening; space or
punctuation after: closing), else by the current state. A mark of the other style
inside an open quote opens a nested quote (part of the outer one); single quotes are
never quote marks here (they are apostrophes or nested quotes). A quote still open at
the end of its paragraph ends there; it is continued by the next paragraph when that
one opens with a quotation mark (news style for multi-paragraph quotes). Unbalanced
marks never raise: a stray closing mark is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

OPENING = "“„‟«"
CLOSING = "”»"
STRAIGHT = '"'
MARKS = frozenset(OPENING + CLOSING + STRAIGHT)
_OPEN_BEFORE = frozenset(" \t([{—–-/‘'")        # a straight mark after these opens
_CLOSE_AFTER = frozenset(" \t.,;:!?)]}—–-…’'")   # a straight mark before these closes


@dataclass
class QuoteSpan:
    """One quoted span: ``[start, end)`` is the content, ``open``/``close`` the marks
    (``close`` is None when the quote runs to the end of its paragraph)."""
    open: int
    close: int | None
    start: int
    end: int
    para_start: int
    para_end: int
    outer_end: int               # end including the closing mark (where it stops if unclosed)
    continued: bool = False      # continues an unclosed quote of the previous paragraph


def _role(text: str, i: int, ps: int, pe: int) -> str:
    """'open', 'close' or 'either' for the mark at ``i`` in paragraph ``[ps, pe)``."""
    ch = text[i]
    before = text[i - 1] if i > ps else " "
    after = text[i + 1] if i + 1 < pe else " "
    if ch in OPENING:   # a typo'd closing mark: “It's unusual,“ he said
        return "close" if before in ",.!?" and after.isspace() else "open"
    if ch in CLOSING:
        return "close"
    opens = before in _OPEN_BEFORE
    closes = after in _CLOSE_AFTER or after in MARKS
    if opens and not closes:
        return "open"
    if closes and not opens:
        return "close"
    return "either"


def _style(ch: str) -> str:
    return "straight" if ch == STRAIGHT else "curly"


def _content(text: str, a: int, b: int) -> tuple[int, int]:
    """Strip whitespace and trailing commas from ``text[a:b]``."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] == ","):
        b -= 1
    return a, b


def _paragraphs(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _scan_paragraph(text: str, ps: int, pe: int) -> list[QuoteSpan]:
    spans: list[QuoteSpan] = []
    cur: int | None = None        # index of the open outer mark
    nested: list[str] = []        # styles of open nested quotes

    def emit(close: int | None, end: int) -> None:
        a, b = _content(text, cur + 1, end)
        if b > a:
            spans.append(QuoteSpan(cur, close, a, b, ps, pe, end + (close is not None)))

    for i in range(ps, pe):
        ch = text[i]
        if ch not in MARKS:
            continue
        role, style = _role(text, i, ps, pe), _style(ch)
        if cur is None:
            if role != "close" or (ch in CLOSING and not text[ps:i].strip()) or (
                    ch in CLOSING and text[i - 1].isspace() and i + 1 < pe
                    and not text[i + 1].isspace()):
                cur, nested = i, []   # also a closing mark used as an opening one
            continue
        outer = _style(text[cur])
        if nested:
            if role == "close" or (role == "either" and style == nested[-1]):
                nested.pop()
            elif style != nested[-1]:
                nested.append(style)
            continue
        if role == "open" and style != outer:
            nested.append(style)
        elif role == "open" and style == outer and ch != STRAIGHT:
            emit(None, i)         # the previous quote never closed: a new one opens
            cur = i
        else:
            emit(i, i)
            cur = None
    if cur is not None:
        emit(None, pe)
    return spans


def find_quote_spans(text: str) -> list[QuoteSpan]:
    """All double-quoted spans of ``text`` in order (see module doc)."""
    out: list[QuoteSpan] = []
    prev_unclosed = False
    for ps, pe in _paragraphs(text):
        spans = _scan_paragraph(text, ps, pe)
        lead = text[ps:pe].lstrip()
        if spans and prev_unclosed and spans[0].open == pe - len(lead):
            spans[0].continued = True
        prev_unclosed = bool(spans) and spans[-1].close is None
        out.extend(spans)
    return out
