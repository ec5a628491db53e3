"""Direct and partial quotations with their speakers, over a parsed spaCy ``Doc``.

Plain functions (no Beam). Steps:

1. :func:`transforms.nlp.quote_spans.find_quote_spans` finds the double-quoted spans.
2. Each span gets a *frame* on either side: the text outside quotes from the span to
   the sentence boundary, the paragraph boundary or the next/previous quote. A cue
   (a speech verb by lemma, or "according to") in a frame gives the speaker through
   the dependency parse (its subject; the name after an inverted verb).
3. Spans of one or two words, or title-cased like a show or book title ("Morning
   Report"), are dropped unless a cue governs them (scare quotes, titles).
4. A span with no cue of its own takes the speaker of the quote it continues: the
   other half of a split quote ("between"), a quote continued over paragraphs
   ("continuation"), the next quote in the same or next paragraph ("follow_on"),
   else the subject of the sentence before it or of the verb governing a partial quote.
5. Speakers resolve to the article's canonical entity names (``transforms.nlp.entities``);
   "he"/"she" to the nearest earlier named person of compatible gender, "it" / "the
   company" to the nearest earlier organisation.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transforms.nlp.doctext import doc_text
from transforms.nlp.entities import TITLES, Mention, link_entities
from transforms.nlp.quote_speakers import SpeakerResolver
from transforms.nlp.quote_spans import QuoteSpan, find_quote_spans
from transforms.nlp.lexicon import is_calendar_word
from transforms.nlp.quote_words import (ADDRESSEE_CUES, CUE_FORMS, MINOR_WORDS,
                                        NOT_SPEAKER_ENTS, PERSON_PRONOUNS, SENT_END,
                                        TITLE_CUES, WEAK_CUES, cue_lemma)

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token

_RULE_CONF = {"addressed": 0.6, "dash": 0.8, "after": 0.9, "inverted": 0.9, "before": 0.85, "according_to": 0.85,
              "colon": 0.75, "between": 0.85, "continuation": 0.85, "follow_on": 0.7,
              "preceding_subject": 0.55, "governor": 0.5, None: 0.3}


@dataclass
class _Attribution:
    subject: "Token | None" = None
    cue: str | None = None
    cue_i: int | None = None
    rule: str | None = None
    spk: dict | None = None      # speaker fields, once resolved


@dataclass
class _Quote:
    span: QuoteSpan
    left: list = field(default_factory=list)       # frame tokens before the quote
    right: list = field(default_factory=list)      # frame tokens after it
    left_bounded: bool = False                     # left frame stops at a previous quote
    att: _Attribution = field(default_factory=_Attribution)
    row: dict = field(default_factory=dict)


class _Extractor:
    """Per-article state: the doc, its quote spans, frames, cues and speakers."""

    def __init__(self, doc: "Doc", mentions: list[Mention]):
        from spacy.attrs import IDX

        self.doc, self.text = doc, doc_text(doc)
        self.t_starts = doc.to_array(IDX).tolist() if len(doc) else []
        self.spans = find_quote_spans(self.text)
        self.q_ends = [s.outer_end for s in self.spans]
        self.q_opens = [s.open for s in self.spans]
        self.spk = SpeakerResolver(doc, mentions, self.in_quote)
        self.mention_at = self.spk.mention_at

    def in_quote(self, pos: int) -> bool:
        """True when char ``pos`` lies inside a quote span (marks included)."""
        k = bisect_right(self.q_opens, pos) - 1
        return k >= 0 and pos < self.q_ends[k]

    def tok_index(self, pos: int) -> int:
        """Index of the first token starting at or after ``pos``."""
        return bisect_left(self.t_starts, pos)

    # ----- frames
    def left_frame(self, q: QuoteSpan, lower: int) -> tuple[list, bool]:
        """Tokens before the opening mark back to a sentence end, the paragraph start
        or ``lower`` (end of the previous strong quote); and whether ``lower`` stopped it."""
        out: list = []
        bound = max(q.para_start, lower)
        i = self.tok_index(q.open) - 1
        while i >= 0:
            t = self.doc[i]
            if t.idx < bound:
                return out[::-1], lower > q.para_start
            if t.text in SENT_END or (t.is_punct and t.text[-1:] in SENT_END):
                return out[::-1], False
            if not t.is_space and t.idx + len(t) <= q.open:
                out.append(t)
            i -= 1
        return out[::-1], False

    def right_frame(self, q: QuoteSpan, upper: int) -> list:
        """Tokens after the quote up to (and without) a sentence end, paragraph end or
        ``upper`` (start of the next strong quote)."""
        out: list = []
        i = self.tok_index(q.outer_end)
        bound = min(q.para_end, upper)
        while i < len(self.doc):
            t = self.doc[i]
            if t.idx >= bound:
                break
            if t.text in SENT_END or (t.is_punct and t.text[-1:] in SENT_END):
                break
            if not t.is_space:
                out.append(t)
            i += 1
        return out

    # ----- cues and subjects
    def subject_of(self, v: "Token") -> "Token | None":
        """The subject of verb ``v`` (climbing xcomp/conj/advcl chains), never inside a
        quote: the nsubj nearest before ``v``, else after it; the modified noun for a
        participle ("footage of Trump saying") or a relative clause."""
        h = v
        if v.tag_ == "VBG" and v.i > 0 and not any(c.dep_.startswith("nsubj") for c in v.children):
            p = self.doc[v.i - 1]   # "footage of Hillary Clinton asking, “…”"
            if p.pos_ == "PROPN" and not self.in_quote(p.idx):
                return p
        for _ in range(4):
            subs = [c for c in h.children if c.dep_ in ("nsubj", "nsubjpass")
                    and any(ch.isalpha() for ch in c.text) and not self.in_quote(c.idx)]
            if subs:
                left = [c for c in subs if c.i < h.i]
                c = left[-1] if left else subs[0]
                if c.lower_ in ("who", "that", "which") and h.dep_ == "relcl":
                    return h.head if not self.in_quote(h.head.idx) else None
                return c
            if h.dep_ in ("relcl", "acl") and h.head.pos_ in ("NOUN", "PROPN", "PRON"):
                return h.head if not self.in_quote(h.head.idx) else None
            if h.dep_ in ("xcomp", "conj", "advcl", "pcomp", "prep") and h.head is not h:
                h = h.head
            else:
                break
        return None

    def nearby_name(self, frame: list, v_pos: int, after: bool) -> "Token | None":
        """Fallback speaker: the nearest name/pronoun/noun to the cue in the frame."""
        seq = frame[v_pos + 1:] if after else frame[:v_pos][::-1]
        for t in seq[:6]:
            if t.ent_type_ in NOT_SPEAKER_ENTS or is_calendar_word(t.text):
                continue   # "announced in October, said Derek Scissors"
            if t.pos_ in ("PROPN", "PRON", "NOUN") and not self.in_quote(t.idx):
                if t.pos_ == "PRON" and t.lower_ not in ("he", "she", "it", "they", "we"):
                    continue
                # climb to the head of a compound ("Omar" -> "Feld")
                while t.dep_ == "compound" and t.head.i > t.i:
                    t = t.head
                return t
        return None

    def reporting_verb(self, v: "Token") -> "Token":
        """A weak cue ("had begun", "agreed") under a reporting verb of the same
        sentence ("X said criminals had begun “…”") gives way to that verb."""
        if cue_lemma(v) not in WEAK_CUES:
            return v
        for a in v.ancestors:
            lem = cue_lemma(a)
            if lem and lem not in WEAK_CUES and not self.in_quote(a.idx):
                return a
        return v

    def cue_text(self, v: "Token") -> str:
        toks = [v] + [c for c in v.children if c.dep_ == "prt"]
        if v.lemma_ in ("tell", "ask"):
            toks += [c for c in v.children if c.dep_ in ("dobj", "dative")
                     and c.i == v.i + 1 and c.pos_ in ("NOUN", "PRON")]
        toks.sort(key=lambda t: t.i)
        return " ".join(t.text for t in toks)

    def attribute(self, frame: list, after: bool, any_verb: bool = False) -> _Attribution:
        """Cue and speaker in ``frame``: the cue nearest the quote wins. After a quote
        the cue must follow it at once (", adding"), after its subject ("Feld, the
        economist, said") or before an inverted subject ("said Feld")."""
        order = range(len(frame)) if after else range(len(frame) - 1, -1, -1)
        for k in order:
            t = frame[k]
            if t.lower_ == "according" and k + 1 < len(frame) and frame[k + 1].lower_ == "to":
                pobj = [c for c in frame[k + 1].children if c.dep_ == "pobj"]
                subj = pobj[0] if pobj else self.nearby_name(frame, k + 1, True)
                if subj is not None:
                    return _Attribution(subj, "according to", t.i, "according_to")
                continue
            if not cue_lemma(t):
                continue
            t = self.reporting_verb(t)
            subj = self.subject_of(t)
            if subj is not None and subj.dep_ == "nsubjpass" and cue_lemma(t) in ADDRESSEE_CUES:
                return _Attribution(None, self.cue_text(t), t.i, "addressed")  # "Ishiba was asked"
            if after:
                att = self._after(frame, k, subj)
                if att.rule is not None:
                    return att
                continue   # "… announced in October, said Derek Scissors"
            if subj is None:
                subj = self.nearby_name(frame, k, False)
            if subj is None:
                continue
            return _Attribution(subj, self.cue_text(t), t.i, "before")
        if after and any_verb:  # "“Go back,” Trump barked" / "beamed Donald Hartley"
            for k, t in enumerate(frame[:8]):
                if t.pos_ == "VERB":
                    a = self._after(frame, k, self.subject_of(t))
                    if a.rule is not None and (a.subject.pos_ in ("PROPN", "PRON")
                                               or self.mention_at(a.subject)):
                        return a
                    break
        if after and len(frame) > 1 and frame[0].text in "―—–-" and (
                frame[1].pos_ == "PROPN" or self.mention_at(frame[1])):
            head = frame[1]
            while head.dep_ == "compound" and head.head.i > head.i:
                head = head.head
            return _Attribution(head, frame[0].text, frame[0].i, "dash")
        return _Attribution()

    def _after(self, frame: list, k: int, subj: "Token | None") -> _Attribution:
        t = frame[k]
        lead = frame[:k]
        ignorable = all(x.is_punct or x.pos_ == "ADV" for x in lead)
        if subj is not None and subj.i > t.i and subj in frame:
            return _Attribution(subj, self.cue_text(t), t.i, "inverted")
        if subj is not None and subj.i < frame[0].i:
            # parse's subject before the quote: only for ", adding" style cues
            if ignorable and t.tag_ == "VBG" and not self.in_quote(subj.idx):
                return _Attribution(subj, self.cue_text(t), t.i, "after")
            subj = None
        if any(x.dep_ == "mark" or x.tag_ == "WRB" for x in lead):
            return _Attribution()   # "…,” when Clinton blasted him
        if subj is not None and subj.i < t.i:
            sub = {x.i for x in subj.subtree}
            if all(x.i in sub or x.is_punct or x.pos_ == "ADV" or t in x.ancestors
                   for x in lead):
                return _Attribution(subj, self.cue_text(t), t.i, "after")
            return _Attribution()
        if ignorable:
            alt = self.nearby_name(frame, k, True)
            adjacent = alt is not None and alt.pos_ == "PROPN" and all(
                x.dep_ in ("compound", "flat", "det", "amod") or x.is_punct
                or x.text.rstrip(".").lower() in TITLES for x in self.doc[t.i + 1:alt.i])
            if alt is not None and (adjacent or alt.head.i == t.i or alt.head.head.i == t.i
                                    and alt.head.pos_ not in ("VERB", "AUX")):
                return _Attribution(alt, self.cue_text(t), t.i, "inverted")
        else:
            alt = self._lead_subject(lead)
            if alt is not None:
                return _Attribution(alt, self.cue_text(t), t.i, "after")
        return _Attribution()

    def _lead_subject(self, lead: list) -> "Token | None":
        """The noun phrase opening ``lead`` ("Flynn, a top surrogate," before a cue the
        parser left without subject), unless ``lead`` holds a verb of its own."""
        ids = {x.i for x in lead}
        for x in lead:
            if x.pos_ in ("VERB", "AUX") and not any(
                    a.dep_ in ("relcl", "acl", "appos") and a.i in ids
                    for a in [x, *x.ancestors]):
                return None
        words = [x for x in lead if not x.is_punct]
        if not words or words[0].pos_ not in ("PROPN", "PRON", "DET", "NOUN", "ADJ"):
            return None
        head = words[0]
        while head.head.i in ids and head.dep_ in ("compound", "det", "amod", "poss",
                                                    "nmod", "flat") and head.head.i > head.i:
            head = head.head
        return head if head.pos_ in ("PROPN", "PRON", "NOUN") else None

    def next_paragraph_dash(self, q: QuoteSpan) -> _Attribution:
        """A quote paragraph signed in the next one: "“…”" then "-Michelle Marks, Ohio"."""
        if self.text[q.outer_end:q.para_end].strip():
            return _Attribution()
        i = self.tok_index(q.para_end)
        while i < len(self.doc) and self.doc[i].is_space:
            i += 1
        frame = [t for t in self.doc[i:i + 8] if not t.is_space]
        if len(frame) > 1 and frame[0].text[:1] in "―—–-" and len(frame[0].text) == 1:
            return self.attribute(frame, True)
        return _Attribution()

    # ----- speakers

    # ----- classification
    def words(self, q: QuoteSpan) -> list[str]:
        return self.text[q.start:q.end].split()

    def titlelike(self, q: QuoteSpan) -> bool:
        """Every word capitalized except short function words: "Meet the Press"."""
        ws = self.words(q)
        if len(ws) > 8 or any(w[-1] in ".!?" for w in ws[:-1]):
            return False
        caps = [w for w in ws if (w.strip("'\"‘’(").lower() not in MINOR_WORDS or w is ws[0])
                and any(c.isalpha() for c in w)]
        return bool(caps) and all(
            w.strip("'\"‘’(")[:1].isupper() or w[:1].isdigit() for w in caps)

    def title_context(self, q: QuoteSpan) -> bool:
        """The word before the quote introduces a title: "NBC's", "on", "titled"."""
        before = self.text[max(q.para_start, q.open - 200):q.open].split()
        if not before:
            return False
        w = before[-1].lower().replace("’", "'").strip(",;:(")
        return w.endswith(("'s", "s'")) or w in TITLE_CUES

    def kind(self, q: QuoteSpan) -> str:
        content = self.text[q.start:q.end]
        first = next((c for c in content if c.isalpha()), "")
        if q.continued:
            return "full"
        if first and first.islower():
            return "partial"
        before = self.text[max(q.para_start, q.open - 200):q.open].rstrip()
        if not before or before[-1] in ".!?:,;—–-(" or before[-1] in "”\"":
            return "full"
        last = before.split()[-1].lower()
        return "full" if last in CUE_FORMS else "partial"

    def governs(self, q: QuoteSpan, v_i: int) -> bool:
        """True when cue token ``v_i`` is the head of the quote's content root."""
        a, b = self.tok_index(q.start), self.tok_index(q.end)
        for t in self.doc[a:b]:
            h = t.head
            if not (q.start <= h.idx < q.end) and h.i == v_i:
                return True
        return False

    def governor_subject(self, q: QuoteSpan) -> "Token | None":
        a, b = self.tok_index(q.start), self.tok_index(q.end)
        if a >= b:
            return None
        t = self.doc[a]
        for _ in range(30):
            if not (q.open <= t.idx < q.outer_end) or t.head is t:
                break
            t = t.head
        for _ in range(4):
            if self.in_quote(t.idx):
                return None
            subj = self.subject_of(t) if t.pos_ in ("VERB", "AUX") else None
            if subj is not None:
                return subj
            if t.head is t:
                return None
            t = t.head
        return None


def _weak(x: _Extractor, q: QuoteSpan) -> bool:
    return len(x.words(q)) <= 2 or x.titlelike(q)


def _previous_sentence_subject(x: _Extractor, q: QuoteSpan, lower: int) -> "Token | None":
    """Subject of the last sentence before ``q`` (after ``lower``), in its paragraph or,
    when ``q`` opens its paragraph, in the paragraph before."""
    floor = lower if q.open == q.para_start else max(lower, q.para_start)
    i = x.tok_index(q.open) - 1
    while i >= 0 and x.doc[i].idx >= floor and (
            x.doc[i].is_space or x.doc[i].text in SENT_END):
        i -= 1
    if i < 0 or x.doc[i].idx < floor or x.in_quote(x.doc[i].idx):
        return None
    root = x.doc[i].sent.root
    if x.in_quote(root.idx):
        return None
    subj = x.subject_of(root)
    if subj is None:
        return None
    if x.mention_at(subj) or subj.lower_ in PERSON_PRONOUNS:
        return subj
    for c in subj.children:  # "Her opponent, Rep. Gordon Blake, disagreed."
        if c.dep_ == "appos" and x.mention_at(c):
            return subj
    return None


def extract_quotes(doc: "Doc", mentions: list[Mention] | None = None) -> list[dict]:
    """Rows of ``schemas.QUOTES`` without ``article_id``: one per quoted span (a quote
    split around its attribution or over paragraphs gives one row per part);
    ``doc.text[start:end] == quote``. ``mentions`` default to ``link_entities(doc)``."""
    if mentions is None:
        mentions = link_entities(doc)
    x = _Extractor(doc, mentions)
    strong = [q for q in x.spans if not _weak(x, q)]
    strong_ends = [q.outer_end for q in strong]
    strong_opens = [q.open for q in strong]
    quotes: list[_Quote] = []
    for q in x.spans:
        k = bisect_left(strong_ends, q.open + 1) - 1
        k2 = bisect_right(strong_opens, q.open)
        qq = _framed(x, q, strong_ends[k] if k >= 0 else 0,
                     strong_opens[k2] if k2 < len(strong_opens) else len(x.text))
        qq.att = _own_attribution(x, qq)
        if _is_quote(x, qq):
            quotes.append(qq)
    return _finish(x, quotes)


def _framed(x: _Extractor, q: QuoteSpan, lower: int, upper: int) -> _Quote:
    """``q`` with its frames; ``lower``/``upper`` are the neighbouring strong quotes."""
    left, bounded = x.left_frame(q, lower)
    if not left and q.open == q.para_start and q.para_start > 1:
        prev_text = x.text[:q.para_start].rstrip()
        if prev_text.endswith(":"):   # "Caddell continued:" then a quote paragraph
            end = len(prev_text) - 1
            pstart = prev_text.rfind("\n") + 1
            left = [t for t in x.doc[x.tok_index(end)].sent
                    if pstart <= t.idx <= end and not t.is_space and not x.in_quote(t.idx)]
    return _Quote(q, left, x.right_frame(q, upper), bounded)


def _own_attribution(x: _Extractor, qq: _Quote) -> _Attribution:
    """The cue and speaker found in the quote's own frames (no inheritance)."""
    q, left, right = qq.span, qq.left, qq.right
    ends_sentence = x.text[q.end - 1] in ".?!" and q.close is not None
    last = x.text[q.start:q.close].rstrip()[-1:] if q.close is not None else ""
    after = x.attribute(right, True, last in (",", "!", "?", "—", "-") or bool(
        right and right[0].text == ","))
    if ends_sentence and after.cue_i is not None and right and (
            after.cue_i - right[0].i > 3
            or x.text[q.end - 1] == "." and right[0].text[:1].islower()):
        after = _Attribution()   # "“We won.” Feld said." yes; a new sentence no
    before = x.attribute(left, False)
    if ends_sentence or after.rule is None:
        att = before if before.rule else after
    else:
        att = after
    if att.rule is None and q.close is not None and not right:
        att = x.next_paragraph_dash(q)
    if att.rule is None and left and left[-1].text.endswith(":"):
        subj = next((sj for t in reversed(left) if t.pos_ in ("VERB", "AUX")
                     and (sj := x.subject_of(t)) is not None), None)
        if subj is None:   # transcript style: "Rep. Trey Gowdy (R-S.C.): “…”"
            subj = x._lead_subject(left[:-1])
            if subj is not None and subj.pos_ != "PROPN":
                subj = None
        if subj is not None:
            att = _Attribution(subj, None, None, "colon")
    return att


def _is_quote(x: _Extractor, qq: _Quote) -> bool:
    """False for titles ("on NBC's “Meet the Press”") and for short or title-cased
    spans that no adjacent or governing cue attributes (scare quotes)."""
    q, a, left, right = qq.span, qq.att, qq.left, qq.right
    if x.titlelike(q) and x.title_context(q):
        return False
    if not _weak(x, q):
        return True
    if a.rule is None or a.cue_i is None or not (
            x.governs(q, a.cue_i)
            or (a.rule in ("after", "inverted") and right and a.cue_i - right[0].i <= 2)
            or (a.rule == "before" and left and a.cue_i >= left[-1].i - 1)):
        return False
    i = x.tok_index(q.open)
    before = x.doc[i - 1] if i > 0 else None
    return not (before is not None and before.dep_ in ("det", "amod", "poss")
                and len(x.words(q)) <= 2)


def _finish(x: _Extractor, quotes: list[_Quote]) -> list[dict]:
    """Inherit speakers along quote chains, resolve speakers, build rows."""
    prev: _Quote | None = None
    for qq in quotes:
        att, kind, cont = _attribution_in_chain(x, qq, prev)
        qq.att = att
        x.spk.previous_speaker = prev.row.get("speaker") if prev is not None else None
        qq.row = _row(x, qq.span, att, kind, cont or qq.span.continued)
        prev = qq
    _backfill(x, quotes)
    return [qq.row for qq in quotes]


def _attribution_in_chain(x: _Extractor, qq: _Quote,
                          prev: _Quote | None) -> tuple[_Attribution, str, bool]:
    """(attribution, kind, continues_previous) of ``qq`` given the quote before it:
    its own cue, else one inherited along the chain, else the subject of the sentence
    before it, else the subject of the verb governing a partial quote."""
    q, att, kind, cont = qq.span, qq.att, x.kind(qq.span), False
    if att.rule is None and prev is not None:
        att, kind, cont = _inherited(x, qq, prev, kind)
    if att.rule is None and prev is None:
        subj = _previous_sentence_subject(x, q, 0)
        if subj is not None:
            att = _Attribution(subj, None, None, "preceding_subject")
    if att.rule is None and kind == "partial":
        subj = x.governor_subject(q)
        if subj is not None:
            att = _Attribution(subj, None, None, "governor")
    elif att.rule in ("before", "after", "inverted") and prev is not None and \
            qq.left_bounded and att.cue_i == prev.att.cue_i:
        att = _Attribution(att.subject, att.cue, att.cue_i, "between")
        cont = True
        kind = prev.row["kind"] if x.text[q.start].islower() else kind
    return att, kind, cont


def _inherited(x: _Extractor, qq: _Quote, prev: _Quote,
               kind: str) -> tuple[_Attribution, str, bool]:
    """A quote with no cue of its own after ``prev``: the other half of a split quote
    or a continued quote takes ``prev``'s speaker; else the subject of the sentence
    before it (a new speaker, or a pronoun) when there is one; else a quote in the
    same or the next paragraph follows on from ``prev``."""
    q = qq.span
    same_para = prev.span.para_start == q.para_start
    next_para = not same_para and not x.text[prev.span.para_end:q.para_start].strip()
    if q.continued:
        return _inherit(prev, "continuation"), kind, True
    if qq.left_bounded or (same_para and not qq.left and
                           x.text[prev.span.outer_end:q.open].strip() == ""):
        return (_inherit(prev, "between"),
                prev.row["kind"] if x.text[q.start].islower() else kind, True)
    subj = _previous_sentence_subject(x, q, prev.span.outer_end)
    if subj is not None and not _same(x, subj, prev):
        return _Attribution(subj, None, None, "preceding_subject"), kind, False
    if same_para or next_para:
        return _inherit(prev, "follow_on"), kind, True
    if subj is not None:   # the same person or a pronoun, paragraphs after ``prev``
        return _Attribution(subj, None, None, "preceding_subject"), kind, False
    return qq.att, kind, False


def _row(x: _Extractor, q: QuoteSpan, att: _Attribution, kind: str, cont: bool) -> dict:
    """The output row; resolves (and caches on ``att``) the speaker fields."""
    if att.spk is None:
        att.spk = x.spk.speaker(att.subject) if att.subject is not None else {
            "speaker": None, "speaker_mention": None,
            "speaker_label": "unnamed" if att.rule == "addressed" else None,
            "speaker_title": None, "resolved": None}
    spk = att.spk
    conf = _RULE_CONF.get(att.rule, 0.5)
    if spk["resolved"]:           # pronoun / "the company": less sure
        conf *= 0.85 if spk["speaker"] else 0.6
    if spk["speaker"] is None and att.rule is not None:
        conf *= 0.8
    return {"quote": x.text[q.start:q.end], "start": q.start, "end": q.end,
            "speaker": spk["speaker"], "speaker_mention": spk["speaker_mention"],
            "speaker_label": spk["speaker_label"], "speaker_title": spk["speaker_title"],
            "cue": att.cue, "kind": kind, "continues_previous": cont, "rule": att.rule,
            "confidence": round(conf, 3)}


def _inherit(prev: _Quote, rule: str) -> _Attribution:
    return _Attribution(prev.att.subject, prev.att.cue, prev.att.cue_i, rule, prev.att.spk)


def _same(x: _Extractor, subj: "Token", prev: _Quote) -> bool:
    m = x.mention_at(subj)
    name = prev.row.get("speaker")
    return (m is not None and m.name == name) or subj.lower_ in PERSON_PRONOUNS


def _backfill(x: _Extractor, quotes: list[_Quote]) -> None:
    """A quote with no speaker takes the next quote's when that one continues it
    (first paragraph of a multi-paragraph quote, first half of a split quote)."""
    for k in range(len(quotes) - 2, -1, -1):
        cur, nxt = quotes[k], quotes[k + 1]
        if cur.row["rule"] is not None or nxt.row["speaker_mention"] is None:
            continue
        gap = x.text[cur.span.outer_end:nxt.span.open]
        if nxt.span.continued or (nxt.span.para_start == cur.span.para_start
                                  and not gap.strip()):
            for key in ("speaker", "speaker_mention", "speaker_label", "speaker_title"):
                cur.row[key] = nxt.row[key]
            cur.row.update(rule="backfill", cue=nxt.row["cue"], confidence=0.6)
