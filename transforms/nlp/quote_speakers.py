"""Who a quote's subject token is: canonical name, label, mention and title.

Names come from ``transforms.nlp.entities`` (the article's canonical entity names).
"he"/"she" and a definite description of a person ("the actor", "the prime
minister", "the 36-year-old") resolve by salience, as attribution systems do: the
people named in the last few sentences, weighted by recency and grammatical role
(the subject of a main clause first, objects and possessors last), with a bonus for
the previous quote's speaker and, for a description, for the person the article gave
that title or apposition. Gender comes from an honorific, else the article's own
pronouns ("Okafor ... her album"), else the first-name table; a known compatible
gender ranks above an unknown one. "it" and "the company" resolve to the nearest
earlier ORG. Mentions inside quotes are never antecedents.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Callable

from transforms.nlp.doctext import doc_text
from transforms.nlp.entities import TITLES, Mention, canonical_name
from transforms.nlp.lexicon import (first_name_gender, is_calendar_word, is_person_noun, is_place,
                                    noun_gender)
from transforms.nlp.quote_words import DOC_NOUNS, ORG_NOUNS, PERSON_PRONOUNS

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token

SPEAKER_LABELS = ("PERSON", "ORG", "GPE")
SALIENCE_SENTENCES = 3          # how many sentences back a pronoun looks
_OBJECT_PRONOUNS = {"him": "m", "his": "m", "himself": "m", "her": "f", "hers": "f",
                    "herself": "f", "he": "m", "she": "f"}
_AGE = re.compile(r"\b\d{1,3}-year-old\b")
_AGE_AFTER = re.compile(r",\s*(\d{1,3}),")


def role_weight(tok: "Token") -> int:
    """Lappin-Leass style weight of a mention's head token: subject of the main clause
    160, of an embedded clause 130, predicate/agent 150, object 130, oblique 120,
    possessor or modifier inside another noun phrase 30."""
    if tok.dep_ == "appos":
        tok = tok.head
    dep = tok.dep_
    if dep in ("poss", "compound", "nmod"):
        return 30
    if dep in ("nsubj", "nsubjpass"):
        verb = tok.head
        main = verb.dep_ == "ROOT" or (verb.dep_ == "conj" and verb.head.dep_ == "ROOT")
        return 160 if main else 130
    if dep == "attr" or (dep == "pobj" and tok.head.lower_ == "by"):
        return 150
    if dep in ("dobj", "dative"):
        return 130
    return 120


class SpeakerResolver:
    """Speaker fields for subject tokens of one article."""

    def __init__(self, doc: "Doc", mentions: list[Mention], in_quote: Callable[[int], bool]):
        self.doc, self.text, self.in_quote = doc, doc_text(doc), in_quote
        self.mentions = sorted(mentions, key=lambda m: m.start)
        self.m_starts = [m.start for m in self.mentions]
        self.sent_starts = [sent.start_char for sent in doc.sents] if len(doc) else [0]
        self.narrative = self._narrative_ordinals(doc)
        self.previous_speaker: str | None = None   # set by the extractor, quote by quote
        self._genders: dict[str, str | None] = {}
        self._pronoun_genders: dict[str, Counter] | None = None
        self._roles: dict[str, set[str]] | None = None

    def mention_at(self, tok: "Token") -> Mention | None:
        """The entity mention covering ``tok``, if any."""
        k = bisect_right(self.m_starts, tok.idx) - 1
        for m in self.mentions[max(0, k - 2):k + 1][::-1]:
            if m.start <= tok.idx < m.end:
                return m
        return None

    def gender(self, name: str) -> str | None:
        """'m', 'f' or None for a canonical PERSON name: an honorific, else the
        article's own pronouns, else the first-name table."""
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
        if g is None:
            g = self._article_gender(name)
        if g is None:
            g = first_name_gender(name.split()[0])
        self._genders[name] = g
        return g

    def _narrative_ordinals(self, doc: "Doc") -> list[int]:
        """Per sentence, how many sentences with words outside quotes precede it: the
        distance salience counts (a long quotation is one step, not ten)."""
        out, n = [], 0
        for sent in (doc.sents if len(doc) else []):
            out.append(n)
            n += any(not t.is_space and not t.is_punct and not self.in_quote(t.idx)
                     for t in sent)
        return out or [0]

    def sentence_of(self, pos: int) -> int:
        return bisect_right(self.sent_starts, pos) - 1

    def distance(self, earlier: int, later: int) -> int:
        """Narrative sentences from char ``earlier`` to char ``later``."""
        return self.narrative[self.sentence_of(later)] - self.narrative[self.sentence_of(earlier)]

    def _article_gender(self, name: str) -> str | None:
        """The gender the article's own pronouns give ``name``: each he/him/his or
        she/her/hers in a sentence without quotes counts for the person it plainly
        refers to
        (:meth:`_pronoun_referent`); a 2:1 majority decides."""
        if self._pronoun_genders is None:
            counts: dict[str, Counter] = defaultdict(Counter)
            for tok in self.doc:
                g = _OBJECT_PRONOUNS.get(tok.lower_)
                if g is not None and not self.in_quote(tok.idx) and not any(
                        self.in_quote(t.idx) for t in tok.sent):   # not "…,” she said"
                    referent = self._pronoun_referent(tok.idx)
                    if referent is not None:
                        counts[referent][g] += 1
            self._pronoun_genders = counts
        c = self._pronoun_genders.get(name)
        if not c:
            return None
        (g, n), = c.most_common(1)
        return g if n >= 2 * (sum(c.values()) - n) else None

    def _pronoun_referent(self, pos: int) -> str | None:
        """Whom a pronoun at ``pos`` plainly refers to, for gender evidence: among the
        people named earlier in its sentence (else in the sentence before), the one
        subject, else the one person; None when that is ambiguous."""
        here = self.sentence_of(pos)
        own = [m for m in self._window(self.sent_starts[here], pos) if m.label == "PERSON"]
        group = own or [m for m in self._window(self.sent_starts[max(0, here - 1)],
                                                self.sent_starts[here]) if m.label == "PERSON"]
        for names in ({m.name for m in group if self._is_subject(m)}, {m.name for m in group}):
            if len(names) == 1:
                return names.pop()
            if names:
                return None
        return None

    def _head(self, m: Mention) -> "Token | None":
        span = self.doc.char_span(m.start, m.end, alignment_mode="expand")
        return span.root if span is not None and len(span) else None

    def _is_subject(self, m: Mention) -> bool:
        head = self._head(m)
        if head is not None and head.dep_ == "appos":
            head = head.head
        return head is not None and head.dep_ in ("nsubj", "nsubjpass")

    def _window(self, lo: int, hi: int) -> list[Mention]:
        """Mentions starting in chars [lo, hi) outside quotes, ending before ``hi``."""
        a, b = bisect_left(self.m_starts, lo), bisect_left(self.m_starts, hi)
        return [m for m in self.mentions[a:b] if m.end <= hi and not self.in_quote(m.start)]

    def roles_of(self, name: str) -> set[str]:
        """Lower-cased words the article uses as ``name``'s title, apposition or age
        ("Prime Minister Shigeru Ishiba" -> {"prime", "minister"}; "Brandt, 61," ->
        {"61-year-old"})."""
        if self._roles is None:
            roles: dict[str, set[str]] = defaultdict(set)
            for m in self.mentions:
                if m.label != "PERSON":
                    continue
                before = self.text[max(0, m.start - 40):m.start].split()[-3:]
                roles[m.name].update(w.lower().strip(",.") for w in before)
                if age := _AGE_AFTER.match(self.text, m.end):   # "Elena Brandt, 61,"
                    roles[m.name].add(f"{age.group(1)}-year-old")
                span = self.doc.char_span(m.start, m.end, alignment_mode="expand")
                if span is not None and len(span):
                    head = span.root
                    for t in [*head.children, head.head] if head.dep_ != "appos" else [head.head]:
                        if t.dep_ == "appos" or head.dep_ == "appos":
                            roles[m.name].add(t.lemma_.lower())
            self._roles = roles
        return self._roles.get(name, set())

    def most_salient(self, pos: int, label: str = "PERSON", gender: str | None = None,
                     role: str | None = None,
                     sentences: int = SALIENCE_SENTENCES) -> Mention | None:
        """The most salient ``label`` mention before ``pos`` within the last
        ``sentences`` narrative sentences (outside quotes), of compatible gender; None
        when nobody is in that window. Score: 200 halved per sentence back, plus the
        role weight, plus 40 for the previous quote's speaker, 25 for a known
        compatible gender and 100 when the article gave the person the title ``role``."""
        here = self.sentence_of(pos)
        lo_sent = here
        while lo_sent > 0 and self.distance(self.sent_starts[lo_sent - 1], pos) <= sentences:
            lo_sent -= 1
        best: dict[str, tuple[float, Mention]] = {}
        for m in self._window(self.sent_starts[lo_sent], pos):
            if m.label != label:
                continue
            g = self.gender(m.name) if label == "PERSON" else None
            if gender is not None and g is not None and g != gender:
                continue
            head = self._head(m)
            weight = role_weight(head) if head is not None else 120
            score = 200 * 0.5 ** self.distance(m.start, pos) + weight
            score += 25 if gender is not None and g == gender else 0
            score += 40 if m.name == self.previous_speaker else 0
            score += 100 if role and role in self.roles_of(m.name) else 0
            if m.name not in best or score > best[m.name][0]:
                best[m.name] = (score, m)
        return max(best.values(), key=lambda sm: sm[0])[1] if best else None

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

    def describes_person(self, s: "Token", surface: str) -> bool:
        """A singular definite description of a person: "the actor", "the prime
        minister", "the 36-year-old" (not "the victim's mother", not "a spokesman")."""
        if any(c.dep_ == "poss" for c in s.children) or not surface.lower().startswith("the "):
            return False
        if _AGE.search(surface):
            return True
        return s.tag_ == "NN" and is_person_noun(s.lemma_)

    def speaker(self, s: "Token") -> dict:
        """speaker, speaker_mention, speaker_label, speaker_title for subject ``s``."""
        s, m = self._subject_mention(s)
        named = m is not None and m.label in SPEAKER_LABELS
        toks = self.phrase(s, named)
        surface = self.text[toks[0].idx:toks[-1].idx + len(toks[-1])]
        row = {"speaker": None, "speaker_mention": surface, "speaker_label": "unnamed",
               "speaker_title": None, "resolved": None}
        low = s.lower_
        if named:
            row.update(speaker=m.name, speaker_label=m.label,
                       speaker_mention=m.text if len(toks) > 4 else surface,
                       speaker_title=self.title_of(s, m, toks))
        elif low in PERSON_PRONOUNS:
            row.update(self._pronoun_speaker(s))
        elif self.describes_person(s, surface):
            row.update(self._described_speaker(s, surface))
        elif low == "it" or (s.pos_ == "NOUN" and s.lemma_.lower() in ORG_NOUNS and any(
                c.lower_ in ("the", "its", "this") for c in s.lefts)):
            r = self.nearest(s.idx, "ORG")
            row.update(speaker=r.name if r else None, resolved="nominal",
                       speaker_label="ORG" if r else "unnamed")
        elif s.pos_ == "PROPN" and s.text[:1].isupper() and not is_calendar_word(s.text):
            row.update(self._unlinked_name_speaker(toks, surface))
        return row

    def _subject_mention(self, s: "Token") -> tuple["Token", Mention | None]:
        """The token that names the speaker and its mention: the subject itself, its
        apposition ("the chief economist, Omar Feld, said"), the name it apposes
        ("Flynn, a top surrogate"), or the possessor of a document ("Feld's statement")."""
        m = self.mention_at(s)
        if m is None or m.label not in SPEAKER_LABELS:
            for c in s.children:
                if c.dep_ == "appos" and (cm := self.mention_at(c)) and cm.label in SPEAKER_LABELS:
                    return c, cm  # "the chief economist, Omar Feld", "the newspaper X"
            if m is None and s.dep_ == "appos" and s.head.pos_ == "PROPN":
                return s.head, self.mention_at(s.head)
        if m is None and s.lemma_.lower() in DOC_NOUNS:
            for c in s.children:
                if c.dep_ == "poss" and (cm := self.mention_at(c)) and cm.label in (
                        "PERSON", "ORG"):
                    return c, cm
        return s, m

    def _pronoun_speaker(self, s: "Token") -> dict:
        """"he"/"she": the most salient person of that gender, else the nearest."""
        g = PERSON_PRONOUNS[s.lower_]
        r = self.most_salient(s.idx, "PERSON", g) or self.nearest(s.idx, "PERSON", g)
        return {"speaker": r.name if r else None, "speaker_label": "PERSON",
                "resolved": "pronoun", "speaker_mention": s.text}

    def _described_speaker(self, s: "Token", surface: str) -> dict:
        """"the actor", "the prime minister", "the 61-year-old": the most salient
        person, preferring one the article gave that title or age; nobody salient
        leaves the speaker unnamed."""
        age = _AGE.search(surface)
        role = age.group(0) if age else s.lemma_.lower()
        r = self.most_salient(s.idx, "PERSON", noun_gender(s.lemma_), role,
                              sentences=2 * SALIENCE_SENTENCES)
        return {"speaker": r.name, "speaker_label": "PERSON", "resolved": "nominal"} \
            if r is not None else {}

    def _unlinked_name_speaker(self, toks: list, surface: str) -> dict:
        """A proper noun the entity linker did not keep: its canonical name when some
        mention matches, else the capitalised words without titles; a place is a GPE."""
        name = canonical_name(self.mentions, surface, "PERSON") or canonical_name(
            self.mentions, surface)
        label = next((x.label for x in self.mentions if x.name == name), "PERSON")
        speaker = name or " ".join(
            t.text for t in toks if t.text.rstrip(".").lower() not in TITLES
            and t.dep_ != "det" and t.text[:1].isupper()) or surface
        if name is None and is_place(speaker):
            label = "GPE"
        return {"speaker": speaker,
                "speaker_label": label if label in SPEAKER_LABELS else "PERSON"}
