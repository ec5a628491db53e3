"""Who a quote's subject token is: canonical name, label, mention and title.

Names come from ``transforms.nlp.entities`` (the article's canonical entity names).
"he"/"she" resolve to the nearest earlier PERSON of compatible gender (an honorific
in the text, else the first name in gender_guesser's table; unknown is compatible
with both), "it" and "the company" to the nearest earlier ORG. Mentions inside
quotes are never antecedents.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from transforms.nlp.entities import TITLES, Mention, canonical_name
from transforms.nlp.quote_words import DOC_NOUNS, ORG_NOUNS, PERSON_PRONOUNS

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Token


@lru_cache(maxsize=1)
def _gender_detector():
    """gender_guesser's first-name table, or None when the package is absent."""
    try:
        import gender_guesser.detector as gd
    except ImportError:  # pragma: no cover - optional
        return None
    return gd.Detector(case_sensitive=False)


class SpeakerResolver:
    """Speaker fields for subject tokens of one article."""

    def __init__(self, text: str, mentions: list[Mention], in_quote: Callable[[int], bool]):
        self.text, self.in_quote = text, in_quote
        self.mentions = sorted(mentions, key=lambda m: m.start)
        self.m_starts = [m.start for m in self.mentions]
        self._genders: dict[str, str | None] = {}

    def mention_at(self, tok: "Token") -> Mention | None:
        """The entity mention covering ``tok``, if any."""
        k = bisect_right(self.m_starts, tok.idx) - 1
        for m in self.mentions[max(0, k - 2):k + 1][::-1]:
            if m.start <= tok.idx < m.end:
                return m
        return None

    def gender(self, name: str) -> str | None:
        """'m', 'f' or None for a canonical PERSON name (honorifics, then first name)."""
        if name in self._genders:
            return self._genders[name]
        g = None
        for m in self.mentions:
            if m.name == name:
                prev = self.text[max(0, m.start - 6):m.start].split()
                h = prev[-1].rstrip(".").lower() if prev else ""
                if h == "mr":
                    g = "m"
                elif h in ("mrs", "ms", "miss"):
                    g = "f"
                if g:
                    break
        if g is None and (det := _gender_detector()) is not None:
            first = name.split()[0].rstrip(".")
            res = det.get_gender(first) if len(first) > 1 else "unknown"
            g = {"male": "m", "female": "f"}.get(res)
        self._genders[name] = g
        return g

    def nearest(self, pos: int, label: str, gender: str | None = None) -> Mention | None:
        """The nearest ``label`` mention ending before ``pos``, outside quotes."""
        k = bisect_left(self.m_starts, pos) - 1
        while k >= 0:
            m = self.mentions[k]
            if m.label == label and m.end <= pos and not self.in_quote(m.start):
                if gender is None or self.gender(m.name) in (None, gender):
                    return m
            k -= 1
        return None

    def phrase(self, s: "Token", named: bool) -> list:
        """The subject's noun phrase without appositions or relative clauses."""
        keep = {"compound", "det", "amod", "poss", "nummod", "case", "nmod", "flat",
                "punct", "advmod", "quantmod"}
        toks = [s]
        for c in s.lefts:
            if c.dep_ in keep:
                toks.extend(c.subtree)
        if not named:
            for c in s.rights:
                if c.dep_ == "prep" and c.i == s.i + 1:
                    toks.extend(c.subtree)
        toks = sorted(set(toks), key=lambda t: t.i)
        while toks and (toks[0].is_punct or toks[0].text in "“”\"'"):
            toks.pop(0)
        while toks and toks[-1].is_punct and toks[-1].text not in ".":
            toks.pop()
        return toks or [s]

    def title_of(self, s: "Token", m: Mention | None, toks: list) -> str | None:
        """The apposition ("the chief economist at ..."), else the words before the name."""
        for c in s.rights:
            if c.dep_ == "appos" and not self.in_quote(c.idx):
                sub = [t for t in c.subtree if not self.in_quote(t.idx)]
                words = self.text[sub[0].idx:sub[-1].idx + len(sub[-1])].strip().strip(" ,()")
                if words:
                    return words
        if m is not None:
            pre = [t for t in toks if t.idx < m.start and t.dep_ != "det"]
            if pre:
                return self.text[pre[0].idx:pre[-1].idx + len(pre[-1])]
        return None

    def speaker(self, s: "Token") -> dict:
        """speaker, speaker_mention, speaker_label, speaker_title for subject ``s``."""
        m = self.mention_at(s)
        if m is None or m.label not in ("PERSON", "ORG", "GPE"):
            for c in s.children:  # "the chief economist, Omar Feld, said"
                if c.dep_ == "appos" and (cm := self.mention_at(c)) and cm.label == "PERSON":
                    s, m = c, cm
                    break
            if m is None and s.dep_ == "appos" and s.head.pos_ == "PROPN":
                s, m = s.head, self.mention_at(s.head)   # "Flynn, a top surrogate"
        if (m is None and s.lemma_.lower() in DOC_NOUNS):  # "Feld's statement said"
            for c in s.children:
                if c.dep_ == "poss" and (cm := self.mention_at(c)) and cm.label in (
                        "PERSON", "ORG"):
                    s, m = c, cm
        low = s.lower_
        named = m is not None and m.label in ("PERSON", "ORG", "GPE")
        toks = self.phrase(s, named)
        surface = self.text[toks[0].idx:toks[-1].idx + len(toks[-1])]
        row = {"speaker": None, "speaker_mention": surface, "speaker_label": "unnamed",
               "speaker_title": None, "resolved": None}
        if named:
            row.update(speaker=m.name, speaker_label="ORG" if m.label == "GPE" else m.label,
                       speaker_mention=m.text if len(toks) > 4 else surface,
                       speaker_title=self.title_of(s, m, toks))
        elif low in PERSON_PRONOUNS:
            r = self.nearest(s.idx, "PERSON", PERSON_PRONOUNS[low])
            row.update(speaker=r.name if r else None, speaker_label="PERSON",
                       resolved="pronoun", speaker_mention=s.text)
        elif low == "it" or (s.pos_ == "NOUN" and s.lemma_.lower() in ORG_NOUNS and any(
                c.lower_ in ("the", "its", "this") for c in s.lefts)):
            r = self.nearest(s.idx, "ORG")
            row.update(speaker=r.name if r else None, resolved="nominal",
                       speaker_label="ORG" if r else "unnamed")
        elif s.pos_ == "PROPN" and s.text[:1].isupper():
            name = canonical_name(self.mentions, surface, "PERSON") or canonical_name(
                self.mentions, surface)
            label = next((x.label for x in self.mentions if x.name == name), "PERSON")
            row.update(speaker=name or surface, speaker_label="ORG" if label == "GPE" else (
                label if label in ("PERSON", "ORG") else "PERSON"))
            if not name:
                row["speaker"] = " ".join(
                    t.text for t in toks if t.text.rstrip(".").lower() not in TITLES
                    and t.dep_ != "det" and t.text[:1].isupper()) or surface
        return row
