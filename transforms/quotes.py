"""Direct and partial quotations with their speakers, over a parsed spaCy ``Doc``.

Plain functions (no Beam). Steps:

1. :func:`transforms.quote_spans.find_quote_spans` finds the double-quoted spans.
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
5. Speakers resolve to the article's canonical entity names (``transforms.entities``);
   "he"/"she" to the nearest earlier named person of compatible gender, "it" / "the
   company" to the nearest earlier organisation.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from transforms.entities import TITLES, Mention, canonical_name, link_entities
from transforms.quote_spans import QuoteSpan, find_quote_spans

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token

CUE_LEMMAS = frozenset("""
say tell tweet retweet write add warn argue ask insist post note explain claim state
declare announce reply respond answer continue conclude recall acknowledge admit concede
confirm deny suggest predict promise vow pledge urge remark comment observe quip joke
boast brag complain lament shout yell scream cry exclaim chant whisper mutter murmur
testify report describe call label dub brand term charge allege accuse assert maintain
contend counter retort rebut reiterate repeat emphasize emphasise stress caution advise
inform blog text email message mention muse wonder agree disagree object protest demand
plead beg thank praise criticize criticise attack slam blast mock dismiss decry condemn
denounce lash sneer scoff laugh sigh grumble gush rave marvel recount characterize
characterise read proclaim hint imply guarantee assure reassure concur echo summarize
summarise offer interject interrupt chime preach swear threaten tease taunt posit
speculate estimate forecast reason begin start put quote cite order instruct recommend
question wail groan snap fire hit push press shoot think believe sing
""".split())
_IRREGULAR = {"said": "say", "says": "say", "told": "tell", "wrote": "write",
              "written": "write", "writes": "write", "thought": "think", "swore": "swear",
              "sworn": "swear", "began": "begin", "shot": "shoot", "read": "read",
              "cried": "cry", "replied": "reply", "denied": "deny", "put": "put"}
ORG_NOUNS = frozenset("""
company firm agency department ministry bank campaign group organization organisation
committee council party government administration office court university school
hospital union association commission board authority corporation club team network
newspaper station police embassy airline retailer insurer utility foundation institute
center centre league coalition bureau regulator regime army military airport museum
""".split())
_DOC_NOUNS = frozenset("statement tweet post letter email release message note memo "
                       "website account ad video".split())
_PERSON_PRONOUNS = {"he": "m", "she": "f"}
_MINOR = frozenset("a an the of and or in on at for to with by from vs de".split())
_SENT_END = frozenset(".!?")
_RULE_CONF = {"dash": 0.8, "after": 0.9, "inverted": 0.9, "before": 0.85, "according_to": 0.85,
              "colon": 0.75, "between": 0.85, "continuation": 0.85, "follow_on": 0.7,
              "preceding_subject": 0.55, "governor": 0.5, None: 0.3}


def _forms(lemma: str) -> set[str]:
    stem = lemma[:-1] if lemma.endswith("e") else lemma
    out = {lemma, lemma + "s", lemma + "es", lemma + "d", lemma + "ed", stem + "ing",
           lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}
    if lemma.endswith("y"):
        out |= {lemma[:-1] + "ies", lemma[:-1] + "ied"}
    return out


_CUE_FORMS = {f: lem for lem in CUE_LEMMAS for f in _forms(lem)} | _IRREGULAR


@lru_cache(maxsize=1)
def _gender_detector():
    """gender_guesser's first-name table, or None when the package is absent."""
    try:
        import gender_guesser.detector as gd
    except ImportError:  # pragma: no cover - optional
        return None
    return gd.Detector(case_sensitive=False)


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


def is_cue(tok: "Token") -> str | None:
    """The cue lemma when ``tok`` is a speech verb, else None."""
    if tok.pos_ not in ("VERB", "AUX") and not tok.tag_.startswith("VB"):
        return None
    lem = tok.lemma_.lower()
    if lem in CUE_LEMMAS:
        return lem
    return _CUE_FORMS.get(tok.lower_)


class _Extractor:
    def __init__(self, doc: "Doc", mentions: list[Mention]):
        self.doc, self.text = doc, doc.text
        self.mentions = sorted(mentions, key=lambda m: m.start)
        self.m_starts = [m.start for m in self.mentions]
        self.t_starts = [t.idx for t in doc]
        self.spans = find_quote_spans(self.text)
        self.q_bounds = [(s.open, s.outer_end) for s in self.spans]
        self.q_opens = [s.open for s in self.spans]
        self._genders: dict[str, str | None] = {}

    # ----- position helpers
    def in_quote(self, pos: int) -> bool:
        k = bisect_right(self.q_opens, pos) - 1
        return k >= 0 and pos < self.q_bounds[k][1]

    def mention_at(self, tok: "Token") -> Mention | None:
        k = bisect_right(self.m_starts, tok.idx) - 1
        while k >= 0 and k >= bisect_right(self.m_starts, tok.idx) - 3:
            m = self.mentions[k]
            if m.start <= tok.idx < m.end:
                return m
            k -= 1
        return None

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
            if t.text in _SENT_END or (t.is_punct and t.text[-1:] in _SENT_END):
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
            if t.text in _SENT_END or (t.is_punct and t.text[-1:] in _SENT_END):
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
            if h.dep_ in ("xcomp", "conj", "advcl", "pcomp") and h.head is not h:
                h = h.head
            else:
                break
        return None

    def nearby_name(self, frame: list, v_pos: int, after: bool) -> "Token | None":
        """Fallback speaker: the nearest name/pronoun/noun to the cue in the frame."""
        seq = frame[v_pos + 1:] if after else frame[:v_pos][::-1]
        for t in seq[:6]:
            if t.pos_ in ("PROPN", "PRON", "NOUN") and not self.in_quote(t.idx):
                if t.pos_ == "PRON" and t.lower_ not in ("he", "she", "it", "they", "we"):
                    continue
                # climb to the head of a compound ("Omar" -> "Feld")
                while t.dep_ == "compound" and t.head.i > t.i:
                    t = t.head
                return t
        return None

    def cue_text(self, v: "Token") -> str:
        toks = [v] + [c for c in v.children if c.dep_ == "prt"]
        if v.lemma_ in ("tell", "ask"):
            toks += [c for c in v.children if c.dep_ in ("dobj", "dative")
                     and c.i == v.i + 1 and c.pos_ in ("NOUN", "PRON")]
        toks.sort(key=lambda t: t.i)
        return " ".join(t.text for t in toks)

    def attribute(self, frame: list, after: bool) -> _Attribution:
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
            if not is_cue(t):
                continue
            subj = self.subject_of(t)
            if after:
                return self._after(frame, k, subj)
            if subj is None:
                subj = self.nearby_name(frame, k, False)
            if subj is None:
                continue
            return _Attribution(subj, self.cue_text(t), t.i, "before")
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
        if subj is not None and subj.i < t.i:
            sub = {x.i for x in subj.subtree}
            if all(x.i in sub or x.is_punct or x.pos_ == "ADV" for x in lead):
                return _Attribution(subj, self.cue_text(t), t.i, "after")
            return _Attribution()
        if ignorable:
            alt = self.nearby_name(frame, k, True)
            if alt is not None and (alt.head.i == t.i or alt.head.head.i == t.i
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

    # ----- speakers
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
        for c in s.rights:
            if c.dep_ == "appos" and not self.in_quote(c.idx):
                sub = [t for t in c.subtree if not self.in_quote(t.idx)]
                words = self.text[sub[0].idx:sub[-1].idx + len(sub[-1])].strip(" ,()")
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
            if m is None and s.dep_ == "appos" and (hm := self.mention_at(s.head)) \
                    and hm.label in ("PERSON", "ORG"):   # "Flynn, a top surrogate"
                s, m = s.head, hm
        if (m is None and s.lemma_.lower() in _DOC_NOUNS):  # "Feld's statement said"
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
        elif low in _PERSON_PRONOUNS:
            r = self.nearest(s.idx, "PERSON", _PERSON_PRONOUNS[low])
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

    # ----- classification
    def words(self, q: QuoteSpan) -> list[str]:
        return self.text[q.start:q.end].split()

    def titlelike(self, q: QuoteSpan) -> bool:
        ws = self.words(q)
        if len(ws) > 8 or self.text[q.end - 1] in ".?!":
            return False
        caps = [w for w in ws if w.strip("'\"‘’(").lower() not in _MINOR or w is ws[0]]
        return all(w.strip("'\"‘’(")[:1].isupper() or w[:1].isdigit() for w in caps)

    def kind(self, q: QuoteSpan) -> str:
        content = self.text[q.start:q.end]
        first = next((c for c in content if c.isalpha()), "")
        if q.continued:
            return "full"
        if first and first.islower():
            return "partial"
        before = self.text[q.para_start:q.open].rstrip()
        if not before or before[-1] in ".!?:,;—–-(" or before[-1] in "”\"":
            return "full"
        last = before.split()[-1].lower()
        return "full" if last in _CUE_FORMS else "partial"

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
    """Subject of the last sentence before ``q`` (after ``lower``) in its paragraph."""
    i = x.tok_index(q.open) - 1
    while i >= 0 and x.doc[i].idx >= max(lower, q.para_start) and (
            x.doc[i].is_space or x.doc[i].text in _SENT_END):
        i -= 1
    if i < 0 or x.doc[i].idx < max(lower, q.para_start) or x.in_quote(x.doc[i].idx):
        return None
    root = x.doc[i].sent.root
    if x.in_quote(root.idx):
        return None
    subj = x.subject_of(root)
    if subj is None:
        return None
    if x.mention_at(subj) or subj.lower_ in _PERSON_PRONOUNS:
        return subj
    for c in subj.children:  # "Her opponent, Rep. Gordon Blake, disagreed."
        if c.dep_ == "appos" and x.mention_at(c):
            return subj
    return None


def extract_quotes(doc: "Doc", mentions: list[Mention] | None = None) -> list[dict]:
    """Rows of ``schemas.QUOTES`` without ``article_id``; ``doc.text[start:end] == quote``."""
    if mentions is None:
        mentions = link_entities(doc)
    x = _Extractor(doc, mentions)
    strong = [q for q in x.spans if not _weak(x, q)]
    strong_ends = [q.outer_end for q in strong]
    strong_opens = [q.open for q in strong]

    quotes: list[_Quote] = []
    for q in x.spans:
        k = bisect_left(strong_ends, q.open + 1) - 1
        lower = strong_ends[k] if k >= 0 else 0
        k2 = bisect_right(strong_opens, q.open)
        upper = strong_opens[k2] if k2 < len(strong_opens) else len(x.text)
        left, bounded = x.left_frame(q, lower)
        if not left and q.open == q.para_start and q.para_start > 1:
            prev_text = x.text[:q.para_start].rstrip()
            if prev_text.endswith(":"):   # "Caddell continued:" then a quote paragraph
                end = len(prev_text) - 1
                left = [t for t in x.doc[x.tok_index(end) - 1].sent
                        if t.idx < end and not t.is_space and not x.in_quote(t.idx)]
        right = x.right_frame(q, upper)
        qq = _Quote(q, left, right, bounded)
        ends_sentence = x.text[q.end - 1] in ".?!" and q.close is not None
        a_after = x.attribute(right, True)
        if ends_sentence and a_after.cue_i is not None and right and (
                a_after.cue_i - right[0].i > 3 or x.text[q.end - 1] == "."
                and right[0].text[:1].islower()):
            a_after = _Attribution()
        a_before = x.attribute(left, False)
        if ends_sentence or a_after.rule is None:
            qq.att = a_before if a_before.rule else a_after
        else:
            qq.att = a_after
        if qq.att.rule == "before" and left and left[-1].text == ":" and qq.att.cue is None:
            qq.att.rule = "colon"
        if qq.att.rule is None and left and left[-1].text == ":":
            subj = x.governor_subject(q) or (x.subject_of(left[-2].sent.root)
                                             if len(left) > 1 else None)
            if subj is not None:
                qq.att = _Attribution(subj, None, None, "colon")
        if _weak(x, q):
            a = qq.att
            if a.rule is None or a.cue_i is None or not (
                    x.governs(q, a.cue_i) or (a.rule in ("after", "inverted") and right
                                              and a.cue_i - right[0].i <= 2)
                    or (a.rule == "before" and left and a.cue_i >= left[-1].i - 1)):
                continue
            before = x.doc[x.tok_index(q.open) - 1] if x.tok_index(q.open) > 0 else None
            if before is not None and before.dep_ in ("det", "amod", "poss") and len(
                    x.words(q)) <= 2:
                continue
        quotes.append(qq)

    return _finish(x, quotes)


def _finish(x: _Extractor, quotes: list[_Quote]) -> list[dict]:
    """Inherit speakers along quote chains, resolve speakers, build rows."""
    prev: _Quote | None = None
    prev_para_end = -1
    for qq in quotes:
        q = qq.span
        kind = x.kind(q)
        cont = False
        att = qq.att
        if att.rule is None and prev is not None:
            same_para = prev.span.para_start == q.para_start
            adjacent_para = not same_para and x.text[prev_para_end:q.para_start].count(
                "\n") <= 2 and prev.span.para_end == prev_para_end
            if q.continued:
                att, cont = _inherit(prev, "continuation"), True
            elif qq.left_bounded or (same_para and not qq.left and
                                     x.text[prev.span.outer_end:q.open].strip() == ""):
                att, cont = _inherit(prev, "between"), True
                kind = prev.row["kind"] if x.text[q.start].islower() else kind
            else:
                subj = _previous_sentence_subject(x, q, prev.span.outer_end)
                if subj is not None and not _same(x, subj, prev):
                    att = _Attribution(subj, None, None, "preceding_subject")
                elif same_para or adjacent_para:
                    att, cont = _inherit(prev, "follow_on"), True
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
        cont = cont or q.continued
        qq.att = att
        if att.spk is not None:
            spk = att.spk
        elif att.subject is not None:
            spk = x.speaker(att.subject)
        else:
            spk = {"speaker": None, "speaker_mention": None, "speaker_label": None,
                   "speaker_title": None, "resolved": None}
        conf = _RULE_CONF.get(att.rule, 0.5)
        if spk.get("resolved"):
            conf *= 0.85 if spk.get("speaker") else 0.6
        if spk.get("speaker") is None and att.rule is not None:
            conf *= 0.8
        att.spk = spk
        qq.row = {
            "quote": x.text[q.start:q.end], "start": q.start, "end": q.end,
            "speaker": spk["speaker"], "speaker_mention": spk["speaker_mention"],
            "speaker_label": spk["speaker_label"], "speaker_title": spk["speaker_title"],
            "cue": att.cue, "kind": kind, "continues_previous": cont, "rule": att.rule,
            "confidence": round(conf, 3)}
        prev, prev_para_end = qq, q.para_end
    _backfill(x, quotes)
    return [qq.row for qq in quotes]


def _inherit(prev: _Quote, rule: str) -> _Attribution:
    return _Attribution(prev.att.subject, prev.att.cue, prev.att.cue_i, rule, prev.att.spk)


def _same(x: _Extractor, subj: "Token", prev: _Quote) -> bool:
    m = x.mention_at(subj)
    name = prev.row.get("speaker")
    return (m is not None and m.name == name) or subj.lower_ in _PERSON_PRONOUNS


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
