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
from typing import TYPE_CHECKING

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


def extract_figures(doc: "Doc") -> list[dict]:
    """Rows of ``schemas.FIGURES`` without ``article_id``, in text order."""
    text = doc.text
    if not text or not any(c.isdigit() or c.isalpha() for c in text):
        return []
    letters = [c for c in text if c.isalpha()]
    any_case = sum(c.isupper() for c in letters) <= 0.01 * max(len(letters), 1)
    scanner = Scanner(lex(text), any_case_codes=any_case)
    ctx = _Context(doc)
    rows, i = [], 0
    while i < len(scanner.L):
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


class _Context:
    """Per-doc lookups: char -> token, token -> entity, phone spans."""

    def __init__(self, doc: "Doc"):
        self.doc = doc
        self.text = doc.text
        self.tok_at = [-1] * (len(self.text) + 1)
        for tok in doc:
            for c in range(tok.idx, tok.idx + len(tok.text)):
                self.tok_at[c] = tok.i
        self.ent_of: dict[int, "Span"] = {
            t: ent for ent in doc.ents for t in range(ent.start, ent.end)}
        self.phones = [(p.start(), p.end()) for p in _PHONE.finditer(self.text)]
        self.has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")

    def tokens(self, s: int, e: int) -> list["Token"]:
        ids = sorted({t for t in self.tok_at[s:e] if t >= 0})
        return [self.doc[t] for t in ids]

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
            if glued_right:
                return None
            row.update(kind="money", unit=m.currency, currency_inferred=bool(m.inferred))
        elif m.percent:
            if glued_right:
                return None
            row.update(kind="percent", unit=m.percent)
        else:
            if not self._bare(m, row, toks, sc, glued_right):
                return None
        if row["kind"] == "duration" and m.qualifier_words == ("over",):
            row.update(qualifier=None, start=num_start)    # "rose 18% over five years"
        if not all(v is None or math.isfinite(v) for v in (row["value"], row["value_high"])):
            return None
        row["text"] = text[row["start"]:row["end"]]
        if self.has_sents:
            row["sentence"] = sentence_context(text, toks[0].sent, row["start"], row["end"])
        return row

    def _bare(self, m: Match, row: dict, toks: list["Token"], sc: Scanner,
              glued_right: bool) -> bool:
        """Count, quantity or duration for a number without currency/percent."""
        doc, e = self.doc, row["end"]
        labels = {self.ent_of[t.i].label_ for t in toks if t.i in self.ent_of}
        if labels & (NAME_LABELS | {"ORDINAL", "MONEY"}):
            return False
        first, last = toks[0], toks[-1]
        prev = doc[first.i - 1] if first.i > 0 else None
        if prev is not None and not m.qualifier:
            if (prev.tag_ in ("NNP", "NNPS") and not prev.is_sent_start) \
                    or prev.lower_ in AGE_WORDS:
                return False                           # "Voyager 2", "aged 45"
            if prev.text == "," and first.i > 1 and self.ent_of.get(first.i - 2) is not None \
                    and self.ent_of[first.i - 2].label_ == "PERSON" \
                    and (last.i + 1 >= len(doc) or doc[last.i + 1].is_punct):
                return False                           # "Ellen Marsh, 45,"
        nxt_tok = doc[last.i + 1] if last.i + 1 < len(doc) else None
        if nxt_tok is not None and nxt_tok.pos_ == "PROPN" and nxt_tok.text[:1].isupper() \
                and not m.qualifier and nxt_tok.ent_type_ != "NORP":
            return False                               # "One Home Depot", "12 Apostles"
        if self.text[row["start"] - 1:row["start"]] in "([" and row["start"] > 0 \
                and self.text[e:e + 1] in ")]" and e < len(self.text):
            return False                               # citation "(16)"
        if glued_right:   # "4km": a unit only when NER calls it a quantity
            unit_tok = doc[self.tok_at[e]] if self.tok_at[e] >= 0 else None
            if "QUANTITY" not in labels or unit_tok is None:
                return False
            word = re.match(r"[^\W\d_]+", self.text[e:])
            row.update(kind="quantity", unit=word.group().lower() if word else None)
            row["end"] = e + (word.end() if word else 0)
            return True
        nxt = self._next_word(e)
        unit_word = _lemma(nxt) if nxt is not None else ""
        if unit_word in TIME_UNITS or (nxt is not None and nxt.lower_ in TIME_UNITS):
            after = self._next_word(nxt.idx + len(nxt.text))
            if after is not None and after.lower_ in NOT_DURATION_AFTER:
                return False                           # ages, "three years ago"
            row.update(kind="duration", unit=TIME_UNITS.get(nxt.lower_, unit_word),
                       end=nxt.idx + len(nxt.text))
            return True
        if labels & {"DATE", "TIME"}:
            return False
        if "QUANTITY" in labels:
            ent = next(self.ent_of[t.i] for t in toks if t.i in self.ent_of)
            words = [_lemma(t) for t in ent if t.idx >= e and t.is_alpha and t.lower_ != "of"]
            if words:
                row.update(kind="quantity", unit=" ".join(words),
                           end=max(row["end"], ent.end_char))
                return True
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
        if pos >= len(self.text) or self.tok_at[pos] < 0:
            return None
        tok = self.doc[self.tok_at[pos]]
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


def _lemma(tok: "Token") -> str:
    return (tok.lemma_ or tok.text).lower()
