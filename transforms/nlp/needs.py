"""Where each extractor reads the tagger and the parser: character spans of a ``Doc``.

Each function takes a ``Doc`` with tokens, sentences (``senter``) and entities, but no
tags or parse yet, and returns the ``(start, end)`` character spans whose sentences
the extractor reads tags, lemmas or dependencies in (``transforms.nlp.selective``).
They over-approximate from the text and the entities: a span listed that the
extractor then ignores costs a little time; a span missed changes its output.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from transforms.nlp.doctext import doc_text
from transforms.nlp.lexicon import is_place
from transforms.nlp.quote_spans import find_quote_spans
from transforms.nlp.quote_words import SENT_END

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc

Spans = list[tuple[int, int]]

# Entity labels that settle a number without the parse (``figures._bare``).
SETTLED_NUMBER_LABELS = frozenset({"DATE", "TIME", "ORDINAL", "MONEY", "PERCENT"})
POSSESSIVE = frozenset({"'s", "’s"})


def quote_needs(doc: "Doc", context: int = 3) -> Spans:
    """Each quote from the ``context``-th narrative sentence before it (a sentence with
    words outside quotes: the salience window of a pronoun speaker,
    ``quote_speakers.SALIENCE_SENTENCES``) to the end of the sentence after its
    closing mark (its frames: the cue and the speaker's subject)."""
    text = doc_text(doc)
    quotes = find_quote_spans(text)
    if not quotes or not len(doc):
        return []
    opens = [q.open for q in quotes]
    ends = [q.outer_end for q in quotes]

    def in_quote(pos: int) -> bool:
        k = bisect_right(opens, pos) - 1
        return k >= 0 and pos < ends[k]
    sents = list(doc.sents)
    starts = [sent.start_char for sent in sents]
    narrative = [any(not t.is_space and not t.is_punct and not in_quote(t.idx) for t in sent)
                 for sent in sents]
    out = []
    for q in quotes:
        k = max(0, bisect_right(starts, q.open) - 1)
        seen = 0
        while k > 0 and seen < context:
            k -= 1
            seen += narrative[k]
        end = q.outer_end
        while end < q.para_end and text[end] not in SENT_END:
            end += 1
        out.append((starts[k], min(end + 1, len(text))))
    return out


def figure_needs(doc: "Doc") -> Spans:
    """Numbers the figure grammar finds that are neither money nor percent nor inside a
    DATE/TIME/ORDINAL/MONEY/PERCENT entity: a count's noun and a name's parts are read
    from the tags and the parse."""
    from transforms.nlp.figures import _scanner

    settled = sorted((e.start_char, e.end_char) for e in doc.ents
                     if e.label_ in SETTLED_NUMBER_LABELS)
    starts = [a for a, _ in settled]
    scanner = _scanner(doc_text(doc), {})
    lexes, out, i = scanner.L, [], 0
    while (i := scanner.next_start(i)) < len(lexes):
        try:
            m = scanner.figure(i)
        except Exception:  # noqa: BLE001 - the extractor skips what the grammar fails on
            m = None
        if m is None:
            i += 1
            continue
        start, end = lexes[m.i].start, lexes[m.j - 1].end
        k = bisect_right(starts, start) - 1
        inside = k >= 0 and settled[k][0] <= start and end <= settled[k][1]
        if not (m.currency or m.percent or inside):
            out.append((start, end))
        i = m.j
    return out


GENDERED_PRONOUNS = frozenset("he him his himself she her hers herself".split())


def pronoun_needs(doc: "Doc") -> Spans:
    """Gendered pronouns, with the sentence before each: the article's own evidence of
    a person's gender reads which person named there is the subject
    (``quote_speakers.SpeakerResolver._pronoun_referent``)."""
    return [(t.idx, t.idx + len(t)) for t in doc if t.lower_ in GENDERED_PRONOUNS]


def entity_needs(doc: "Doc") -> Spans:
    """Mentions whose label the parse may change (``entities._mention_vote``: a place
    tagged PERSON or ORG), names split at a possessive, and capitalised tokens outside
    the entities that repeat the surname of a full PERSON name (tagged NNP)."""
    surnames = {ent[-1].text for ent in doc.ents if ent.label_ == "PERSON" and len(ent) > 1}
    covered: set[int] = set()
    out = []
    for ent in doc.ents:
        covered.update(range(ent.start, ent.end))
        if ent.label_ in ("PERSON", "ORG") and is_place(ent.text):
            out.append((ent.start_char, ent.end_char))
        elif ent.label_ in ("PERSON", "ORG", "GPE") and any(
                t.text in POSSESSIVE for t in ent[1:-1]):
            out.append((ent.start_char, ent.end_char))
    out += [(t.idx, t.idx + len(t)) for t in doc
            if t.text in surnames and t.i not in covered]
    return out
