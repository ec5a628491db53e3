"""Numeric figures (money, percent, count, quantity, duration) from a spaCy ``Doc``.

Candidates come from the figure grammar in ``transforms.nlp.numbers`` run over
``doc.text``; the Doc (same parse, no second pass) then decides what they are:
NER labels (DATE/TIME/ORDINAL/name entities), the dependency parse (the counted
noun of "3 million residents"), lemmas (units) and sentences. Not figures: dates
and years, clock times, ordinals, ages, phone numbers, numbers inside names
("G-20", "COVID-19", "Boeing 737", "Section 230").

Pipeline components used: tagger/attribute_ruler (POS), parser (nummod heads,
sentences), ner; lemmatizer optional (unit lemmas fall back to lower-cased text).
"""
from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from transforms.nlp.doctext import doc_text
from transforms.nlp.currency_source import source_currency
from transforms.nlp.numbers import Match, Scanner, lex, parse_money

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Span, Token

__all__ = ["extract_figures", "parse_money"]

TIME_UNITS = {u: u for u in ("second", "minute", "hour", "day", "week", "fortnight",
                             "month", "year", "decade", "century")}
TIME_UNITS.update({u + "s": u for u in list(TIME_UNITS)} | {"centuries": "century",
                                                              "hrs": "hour", "mins": "minute"})
NAME_LABELS = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT", "LAW",
               "WORK_OF_ART", "LANGUAGE"}
# Names a letter code and its number can be part of ("COP 29", "SDG 11"). The small
# model also calls "GBP 350" a PRODUCT and codes ORGs, so those labels do not count.
CODE_NAME_LABELS = {"EVENT", "LAW", "WORK_OF_ART", "FAC"}
# Nouns that name a thing by a number after them ("grade eight", "page 12", "No. 10").
LABEL_NOUNS = {"grade", "level", "page", "chapter", "section", "article", "clause",
               "room", "gate", "platform", "route", "number", "no", "phase", "stage",
               "episode", "volume", "figure", "table", "step", "version", "tier", "category",
               "class", "year", "division", "unit", "lane", "pier", "terminal", "week"}
_INFLECTED_ACRONYM = re.compile(r"\b([A-Z]{2,6})(?:s|'s|’s)\b")
NOT_DURATION_AFTER = {"old", "ago", "earlier"}
AGE_WORDS = {"age", "aged", "ages"}
_PHONE = re.compile(r"(?:\+?\d{1,3}[\s.-])?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\b\d{3}-\d{4}\b")
_DATE_GLUE_AFTER = re.compile(r"^[/:.\-]\d")
_DATE_GLUE_BEFORE = re.compile(r"\d[/:.]$")


# A run-on "sentence" (a table flattened to text, a list) is cut to this many
# characters around the figure, so rows stay small however long it is.
MAX_SENTENCE_CHARS = 600


def sentence_context(text: str, sent, start: int, end: int) -> str:
    """The sentence around ``text[start:end]``, or a window of it when very long."""
    a, b = sent.start_char, sent.end_char
    if b - a > MAX_SENTENCE_CHARS:
        half = max(0, MAX_SENTENCE_CHARS - (end - start)) // 2
        a, b = max(a, start - half), min(b, end + half)
    return text[a:b]


def extract_figures(doc: "Doc", source: dict | None = None) -> list[dict]:
    """Rows of ``schemas.FIGURES`` without ``article_id``, in text order.

    ``source``: the article's ``hostname``/``sitename`` (``articles`` columns), which
    with the text decide what a bare "$" means (``transforms.nlp.currency_source``);
    default: ``doc.user_data["article_source"]`` (set by ``nlp.model.annotate_doc``).
    """
    text = doc_text(doc)
    if not text or not any(c.isdigit() or c.isalpha() for c in text):
        return []
    if source is None:
        source = doc.user_data.get("article_source") if doc.user_data else None
    scanner = _scanner(text, source or {})
    ctx = _Context(doc, text)
    rows, i = [], 0
    while (i := scanner.next_start(i)) < len(scanner.L):
        try:
            m = scanner.figure(i)
            row = ctx.classify(scanner, m) if m else None
        except Exception:  # noqa: BLE001 - arbitrary text must never raise
            m, row = None, None
        if row:
            rows.append(row)
            i = m.j
        else:
            i += 1
    return rows


def _scanner(text: str, source: dict) -> Scanner:
    """The figure grammar over ``text``, told the source's currencies and the
    upper-case words the text uses as names."""
    letters = [c for c in text if c.isalpha()]
    any_case = sum(c.isupper() for c in letters) <= 0.01 * max(len(letters), 1)
    local = source_currency(text, source.get("hostname"), source.get("sitename"))
    return Scanner(lex(text), any_case_codes=any_case, local_dollar=local.dollar,
                   local_shilling=local.shilling, name_words=name_words(text))


def name_words(text: str) -> frozenset[str]:
    """Acronyms the text inflects like nouns ("SDGs", "the COP's"): names, not codes."""
    return frozenset(m.group(1) for m in _INFLECTED_ACRONYM.finditer(text))


class _Context:
    """Per-doc lookups: char -> token, token -> entity, phone spans."""

    def __init__(self, doc: "Doc", text: str):
        from spacy.attrs import IDX, LENGTH

        self.doc = doc
        self.text = text
        spans = doc.to_array([IDX, LENGTH]) if len(doc) else None
        self.starts: list[int] = [] if spans is None else spans[:, 0].tolist()
        self.ends: list[int] = [] if spans is None else (spans[:, 0] + spans[:, 1]).tolist()
        self.ent_of: dict[int, "Span"] = {
            t: ent for ent in doc.ents for t in range(ent.start, ent.end)}
        self.phones = [(p.start(), p.end()) for p in _PHONE.finditer(self.text)]
        self.has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")
        self.name_numbers: set[int] = set()     # tokens found to be numbers in names

    def tok_at(self, pos: int) -> int:
        """Index of the token covering char ``pos``, or -1 (whitespace, or no token)."""
        i = bisect_right(self.starts, pos) - 1
        return i if i >= 0 and pos < self.ends[i] else -1

    def tokens(self, s: int, e: int) -> list["Token"]:
        """The tokens covering any char of ``text[s:e]``, in order."""
        if e <= s:
            return []
        first = bisect_right(self.starts, s) - 1
        if first < 0 or s >= self.ends[first]:
            first += 1
        last = bisect_left(self.starts, e)           # tokens starting before e
        return [self.doc[t] for t in range(first, last) if self.ends[t] > s]

    def classify(self, sc: Scanner, m: Match) -> dict | None:
        L, text = sc.L, self.text
        s, e = L[m.i].start, L[m.j - 1].end
        num_start = L[m.amounts[0].i].start          # after qualifier words
        if any(ps < e and s < pe for ps, pe in self.phones):
            return None
        before, after = text[max(0, num_start - 2):num_start], text[e:e + 2]
        glued_left = bool(before) and (before[-1].isalnum() or (
            before[-1] == "-" and len(before) == 2 and before[0].isalnum()))
        if glued_left or _DATE_GLUE_AFTER.match(after) or _DATE_GLUE_BEFORE.search(before):
            return None
        glued_right = bool(after) and after[0].isalnum()
        toks = self.tokens(num_start, e)
        if not toks:
            return None
        row = {"text": text[s:e], "kind": None, "value": float(m.value),
               "value_high": None if m.value_high is None else float(m.value_high),
               "unit": None, "currency_inferred": None, "qualifier": m.qualifier,
               "start": s, "end": e, "sentence": None}
        if m.currency:
            if glued_right or self._code_in_name(sc, m, toks):
                return None
            row.update(kind="money", unit=m.currency, currency_inferred=bool(m.inferred))
        elif m.percent:
            if glued_right:
                return None
            row.update(kind="percent", unit=m.percent)
        elif not self._bare(m, row, toks, glued_right):
            return None
        if row["kind"] == "duration" and m.qualifier_words == ("over",):
            row.update(qualifier=None, start=num_start)    # "rose 18% over five years"
        if not all(v is None or math.isfinite(v) for v in (row["value"], row["value_high"])):
            return None
        row["text"] = text[row["start"]:row["end"]]
        if self.has_sents:
            row["sentence"] = sentence_context(text, toks[0].sent, row["start"], row["end"])
        return row

    # -- numbers inside names
    def _code_in_name(self, sc: Scanner, m: Match, toks: list["Token"]) -> bool:
        """"SDG 11", "COP 29": a letter code and its number inside one name entity.
        A currency sign ("$", "€") is never part of a name."""
        first = sc.L[m.amounts[0].i]
        if first.kind != "word":
            return False
        ent = self.ent_of.get(toks[-1].i)
        return ent is not None and ent.label_ in CODE_NAME_LABELS \
            and ent.start_char <= first.start

    def _in_name(self, m: Match, toks: list["Token"]) -> bool:
        """A number that is part of a name: "iPadOS 13", "Voyager 2", "Group of Seven",
        "grade eight", "SDGs 7 and 11", "One Home Depot", "12 Apostles", "(16)"."""
        first, last = toks[0], toks[-1]
        labels = {self.ent_of[t.i].label_ for t in toks if t.i in self.ent_of}
        if labels & NAME_LABELS:
            return True
        if m.qualifier:
            return False
        prev = self._prev_word(first)
        if prev is not None and (_names_a_number(prev) or prev.lower_ in AGE_WORDS):
            return True                                # "Voyager 2", "aged 45"
        if prev is not None and prev.lower_ == "of" and prev.i > 0:
            owner = self.doc[prev.i - 1]               # "the Group of Seven"
            if owner.pos_ == "PROPN" and owner.text[:1].isupper() and not owner.is_sent_start:
                return True
        if prev is not None and prev.lower_ in ("and", "or", ",", "&") \
                and prev.i - 1 in self.name_numbers:
            return True                                # "SDGs 7 and 11"
        nxt = self.doc[last.i + 1] if last.i + 1 < len(self.doc) else None
        if nxt is not None and nxt.pos_ == "PROPN" and nxt.text[:1].isupper() \
                and nxt.ent_type_ != "NORP":
            return True                                # "One Home Depot", "12 Apostles"
        start, end = first.idx, last.idx + len(last.text)
        return start > 0 and self.text[start - 1] in "([" and self.text[end:end + 1] in ")]"

    def _prev_word(self, first: "Token") -> "Token | None":
        return self.doc[first.i - 1] if first.i > 0 else None

    def _person_age(self, toks: list["Token"]) -> bool:
        """"Ellen Marsh, 45," is an age."""
        first, last, doc = toks[0], toks[-1], self.doc
        if first.i < 2 or doc[first.i - 1].text != ",":
            return False
        person = self.ent_of.get(first.i - 2)
        return person is not None and person.label_ == "PERSON" and (
            last.i + 1 >= len(doc) or doc[last.i + 1].is_punct)

    # -- count, quantity or duration
    def _bare(self, m: Match, row: dict, toks: list["Token"], glued_right: bool) -> bool:
        """Count, quantity or duration for a number without currency/percent."""
        labels = {self.ent_of[t.i].label_ for t in toks if t.i in self.ent_of}
        if labels & {"ORDINAL", "MONEY"} or m.amounts[0].glued_scale:
            return False                               # "4K", "400m": not counts
        if self._in_name(m, toks) or (not m.qualifier and self._person_age(toks)):
            self.name_numbers.update(t.i for t in toks)
            return False
        if glued_right:
            return self._glued_quantity(row, labels)
        e = row["end"]
        if self._duration(row, e):
            return row["kind"] is not None
        if labels & {"DATE", "TIME"}:
            return False
        if self.text[e:e + 1] == "-" and self.text[e + 1:e + 2].isalpha():
            return False                               # "12-megapixel", "3-in-1"
        if "QUANTITY" in labels and self._entity_quantity(row, toks):
            return True
        return self._count(m, row, toks, labels)

    def _glued_quantity(self, row: dict, labels: set[str]) -> bool:
        """"4km": a quantity only when NER calls it one."""
        e = row["end"]
        unit_tok = self.doc[self.tok_at(e)] if self.tok_at(e) >= 0 else None
        if "QUANTITY" not in labels or unit_tok is None:
            return False
        word = re.match(r"[^\W\d_]+", self.text[e:])
        row.update(kind="quantity", unit=word.group().lower() if word else None)
        row["end"] = e + (word.end() if word else 0)
        return True

    def _duration(self, row: dict, e: int) -> bool:
        """"five years" -> duration (kind set); "three years ago" -> handled, no figure."""
        nxt = self._next_word(e)
        unit_word = _lemma(nxt) if nxt is not None else ""
        if not (unit_word in TIME_UNITS or (nxt is not None and nxt.lower_ in TIME_UNITS)):
            return False
        after = self._next_word(nxt.idx + len(nxt.text))
        if after is not None and after.lower_ in NOT_DURATION_AFTER:
            row["kind"] = None                         # ages, "three years ago"
            return True
        row.update(kind="duration", unit=TIME_UNITS.get(nxt.lower_, unit_word),
                   end=nxt.idx + len(nxt.text))
        return True

    def _entity_quantity(self, row: dict, toks: list["Token"]) -> bool:
        """"12 tonnes": the unit words of a QUANTITY entity."""
        e = row["end"]
        ent = next(self.ent_of[t.i] for t in toks if t.i in self.ent_of)
        words = [_lemma(t) for t in ent if t.idx >= e and t.is_alpha and t.lower_ != "of"]
        if not words:
            return False
        row.update(kind="quantity", unit=" ".join(words), end=max(row["end"], ent.end_char))
        return True

    def _count(self, m: Match, row: dict, toks: list["Token"], labels: set[str]) -> bool:
        """"3 million residents" -> count of "resident"; not years or a lone "one"."""
        last = toks[-1]
        noun = self._counted_noun(last)
        integral = m.value == int(m.value) and "," not in row["text"] and "." not in row["text"]
        if noun is None and (integral and 1000 <= m.value <= 2100 and m.value_high is None):
            return False                               # a year
        if noun is None and "CARDINAL" not in labels:
            return False
        if noun is None and last.lower_ in ("one", "a", "an"):
            return False
        row.update(kind="count", unit=noun)
        return True

    def _next_word(self, pos: int) -> "Token | None":
        """First token starting at or after char ``pos``, skipping one hyphen."""
        while pos < len(self.text) and self.text[pos] in " \t\n-–":
            pos += 1
        if pos >= len(self.text) or self.tok_at(pos) < 0:
            return None
        tok = self.doc[self.tok_at(pos)]
        return tok if tok.idx == pos and tok.is_alpha else None

    def _counted_noun(self, last: "Token") -> str | None:
        """Noun a number counts: "3 million residents" -> "resident"."""
        head = last.head
        if last.dep_ in ("nummod", "quantmod", "compound") and head.i > last.i \
                and head.pos_ in ("NOUN", "PROPN") and head.i - last.i <= 4:
            return _lemma(head)
        doc = self.doc
        for k in range(last.i + 1, min(last.i + 3, len(doc))):
            tok = doc[k]
            if tok.pos_ == "NOUN":
                return _lemma(tok)
            if tok.pos_ not in ("ADJ", "ADV") or tok.is_punct:
                break
        return None


def _inner_capital(word: str) -> bool:
    """"iPadOS", "SDGs", "NASA": a capital after the first letter."""
    return any(c.isupper() for c in word[1:])


def _names_a_number(prev: "Token") -> bool:
    """A word before a number that makes it a name: "iPadOS 13", "Voyager 2", "grade 8"."""
    if prev.lower_ in LABEL_NOUNS and prev.pos_ in ("NOUN", "PROPN"):
        return True
    if prev.tag_ in ("NNP", "NNPS") and not prev.is_sent_start:
        return True
    return prev.is_alpha and _inner_capital(prev.text)


def _lemma(tok: "Token") -> str:
    return (tok.lemma_ or tok.text).lower()
