"""Entity linking within one article: spaCy NER spans -> canonical names.

Plain functions over a spaCy ``Doc`` (no Beam). Canonicalisation is per article:

* titles/honorifics ("Gov.", "Dr.", "President") are trimmed from PERSON mentions,
  a leading "the" from other labels, a trailing possessive ("'s") from all;
  the mention's offsets cover the trimmed span, so ``text == doc.text[start:end]``;
* an acronym defined in parentheses after a long form ("Northfield Transit
  Authority (NTA)") takes the long form's name and label; an undefined all-caps
  acronym takes the name whose capitalised initials it spells ("EU");
* a partial PERSON name ("Feld", "Omar Feld") links to the longest full PERSON
  name containing its tokens in order (ties: the earliest in the text);
* cheap fixes for en_core_web_sm errors: a single-token mention tagged ORG/GPE/...
  that equals a known person's surname becomes PERSON, and a title-case token
  the model missed that equals a known surname or defined acronym is added;
  each canonical name then gets one label (majority vote; a tie goes to GPE for a
  place the gazetteer knows, else to the first mention).
* article-level evidence over the model's label (issue 14): an NER span is split
  where names are glued (commas between names, a lower-case word that is no name
  particle: "Baxter hit Reid", "Kandahar province"); all-lower-case parts, titles
  alone ("Rear Admiral") and names that are a whole quotation ("“Lucy Marlowe”", a
  work's title) are no PERSON/ORG/GPE; capitals ("HALDEN", a dateline) take the
  article's spelling; "Vantor" after "Vantor Group Corp" is that organisation;
  a place or town (GeoNames) read as a place ("from Hermanus", "the Burbank
  studio") is a GPE; a "person" after "the" ("the Ravens") is an ORG,
  and a one-word one that some mention shows is a thing ("across Twitter", "Zentrix
  said it", "BrightLoop") and none shows is a person (title, speech verb, role or age
  in apposition) is an ORG, or a GPE after "from"/"in"; one listed with ORGs is an
  ORG; a role noun before a name the model tagged ORG makes it a PERSON ("host Dana
  Quill"), an organisation's noun a PERSON an ORG ("the newspaper X"); a place's
  name and more that is no place ("Leeds United") is an ORG; a "GPE" no gazetteer
  knows that is listed with ORGs, a medium ("on Streamly") or an employer before a
  role ("Quarrier analyst") is an ORG; demonyms ("Nepali") are NORP; a word the
  article also writes as a lower-case noun ("Search"/"search") is no name; two
  spellings of one city ("Kiev", "Kyiv") are one name; acronyms are also defined
  after a qualifier ("Leeds Regional Flood Centre (RFC)"), before the long form
  ("Kora (Kent Office for Research and Analysis)") and over a long form the model
  cut; a known first name before a lone surname the model missed joins it; an
  "organisation" whose last word names a law or document ("... Act", "... Agreement")
  is a LAW.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from transforms.nlp.doctext import doc_text
from transforms.nlp.lexicon import (city_id, first_name_gender, is_calendar_word, is_geonames_name,
                                    is_city_main_name, is_demonym, is_geo_feature,
                                    is_law_word, is_org_designator, is_org_noun,
                                    is_person_attribute,
                                    is_person_noun,
                                    is_place, is_town, noun_gender)
from transforms.nlp.quote_words import cue_lemma

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Doc, Token


KEEP_LABELS = frozenset({
    "PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT", "LAW",
    "WORK_OF_ART", "LANGUAGE"})

# Lower-cased, without the trailing period. Stripped from the start of PERSON names.
TITLES = frozenset("""
mr mrs ms miss mx dr prof professor sir dame lord lady rev reverend fr father
gov governor sen senator rep representative congressman congresswoman
president vice prime minister secretary chancellor premier mayor judge justice
gen general col colonel capt captain lt lieutenant sgt sergeant maj major adm admiral
cmdr commander det detective officer sheriff chief commissioner ambassador speaker
councilman councilwoman councillor councilor alderman king queen prince princess
pope attorney deputy acting former late st saint ceo chairman chairwoman chair
rear marshal datuk dato datin tun seri
""".split())

# Labels whose leading "The" is not part of the name ("The Glass Orchard" keeps it).
THE_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC", "NORP"})

_POSSESSIVE = re.compile(r"(?:['’]s|s['’])$|['’]$")
_ACRONYM = re.compile(r"^(?=(?:.*[A-Z]){2})[A-Z][A-Za-z&.\-]{1,11}$")
_EDGE_PUNCT = "\"'“”‘’.,;:!?()[]{}-–—"


@dataclass(frozen=True)
class Mention:
    """One entity mention: char offsets into ``doc.text`` and its canonical name."""
    start: int
    end: int
    text: str
    label: str
    name: str



def _norm(text: str) -> str:
    return " ".join(text.split())


def clean_surface(surface: str, label: str | None = None) -> str:
    """Strip titles (PERSON or unknown label), leading "the", possessive, edge punctuation."""
    words = _norm(surface).strip(_EDGE_PUNCT + " ").split()
    if len(words) > 1 and (words[0] == "the" or (
            words[0] == "The" and label in THE_LABELS | {None})):
        words = words[1:]
    if label in (None, "PERSON"):
        while len(words) > 1 and words[0].lower().rstrip(".") in TITLES:
            words = words[1:]
    if words:
        words[-1] = _POSSESSIVE.sub("", words[-1]) or words[-1]
    return " ".join(words).strip(_EDGE_PUNCT + " ")


def _trim(tokens: list["Token"], label: str) -> list["Token"]:
    """Drop leading determiner/titles and trailing possessive/punctuation tokens."""
    toks = list(tokens)
    while len(toks) > 1 and (toks[0].is_punct or toks[0].is_lower  # "the", "state"
                             or (toks[0].text == "The" and label in THE_LABELS)
                             or (label == "PERSON" and toks[0].lower_.rstrip(".") in TITLES)):
        toks.pop(0)
    while len(toks) > 1 and (toks[-1].lower_ in ("'s", "’s", "'", "’")
                             or (toks[-1].is_lower and toks[-1].is_alpha  # "... at"
                                 and not _hyphen_tail(toks[-1]))
                             or (toks[-1].is_punct and toks[-1].text not in ".")):
        toks.pop()
    return toks


def _is_contained(short: list[str], long: list[str]) -> bool:
    """True when ``short``'s words occur in ``long`` in order (and ``long`` is longer)."""
    if len(short) >= len(long):
        return False
    it = iter(w.lower() for w in long)
    return all(any(w.lower() == x for x in it) for w in short)


def _acronym_of(acronym: str, long_form: str, suffix: bool = False) -> bool:
    """``NTA`` vs ``Northfield Transit Authority``: letters a subsequence of capitals;
    with ``suffix``, of the capitals of the long form less some leading words."""
    if suffix:
        words = long_form.split()
        return any(_acronym_of(acronym, " ".join(words[k:])) for k in range(len(words)))
    letters = [c for c in acronym.upper() if c.isalpha()]
    caps = [w[0].upper() for w in long_form.split() if w[:1].isalpha()]
    if len(letters) < 2 or not caps or letters[0] != caps[0]:
        return False
    def subseq(pool: list[str]) -> bool:
        it = iter(pool)
        return all(any(c == p for p in it) for c in letters)
    return subseq(caps) or subseq([c for c in long_form if c.isupper()])


def _by_last_word(fulls: list[tuple[str, int]]) -> dict[str, list[tuple[str, int]]]:
    """Full names indexed by each of their words (lower-cased), order kept."""
    index: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for full, first in fulls:
        for w in set(full.lower().split()):
            index[w].append((full, first))
    return index


def _person_target(words: list[str], fulls: list[tuple[str, int]],
                   index: dict[str, list[tuple[str, int]]] | None = None) -> str | None:
    """Longest full PERSON name (then earliest) containing ``words`` in order.

    ``index`` (from ``_by_last_word``) narrows the search to names that contain
    the last word, so linking stays linear in the number of mentions."""
    if index is not None:
        fulls = index.get(words[-1].lower(), []) if words else []
    best: tuple[int, int, str] | None = None
    for full, first in fulls:
        fw = full.split()
        if _is_contained(words, fw) or words == fw:
            key = (-len(fw), first, full)
            if best is None or key < best:
                best = key
    return best[2] if best else None


# Lower-case words that may sit inside a name ("Bank of England", "Ludwig van Beethoven").
NAME_PARTICLES = frozenset("""
of and for the to on in at upon de du des da das do dos di del della van von der den ter
la le les el es al ul ud bin ibn bint zu y e &
""".split())


def _hyphen_tail(tok: "Token") -> bool:
    """"yip" in "Kai-man": a word glued to the one before by a hyphen."""
    return (tok.i > 1 and tok.doc[tok.i - 1].text == "-"
            and not tok.doc[tok.i - 1].whitespace_ and not tok.doc[tok.i - 2].whitespace_)


def _glue(tok: "Token") -> bool:
    """A token that may stand inside a name: capitalised, a digit or symbol, a particle,
    the tail of a hyphenated word ("Kai-man")."""
    return (not tok.is_lower or tok.lower_ in NAME_PARTICLES or not tok.is_alpha
            or _hyphen_tail(tok))


def _segments(tokens: Iterable["Token"]) -> list[list["Token"]]:
    """Split an NER span where one name ends and another begins: at brackets ("World
    Health Organization (WHO"), at commas between names ("Harlow, Penrose, Lister"), at
    a lower-case word that is no name particle ("Baxter hit Reid", "Kandahar province",
    "commerce ministry"); parts without a capitalised word are dropped."""
    parts: list[list["Token"]] = [[]]
    toks = list(tokens)
    # "Immigration, Refugees and Citizenship Canada": a list closed by "and" is one name
    one_list = any(t.lower_ in ("and", "&") for t in toks)
    for k, tok in enumerate(toks):
        if tok.text in "()[]" or (tok.text == "," and 0 < k < len(toks) - 1 and not one_list
                                   and toks[k + 1].text[:1].isupper()):
            parts.append([])
        elif not _glue(tok):
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if any(c.isupper() for t in p for c in t.text)]


def _split_affiliation(seg: list["Token"], label: str) -> list[tuple[list["Token"], str]]:
    """"Ravens QB Mason Reid": a team or employer and a position code glued before a
    person's name (a first name, then at least a surname): the team is an ORG of its
    own, the code no name."""
    def code(t: "Token") -> bool:
        return t.is_upper and t.is_alpha and 2 <= len(t) <= 4
    if label != "PERSON" or len(seg) < 3:
        return [(seg, label)]
    for k in range(1, len(seg) - 1):
        if seg[k].is_title and first_name_gender(seg[k].text) and any(map(code, seg[:k])):
            team = [t for t in seg[:k] if not code(t)]
            return ([(team, "ORG")] if team else []) + [(seg[k:], label)]
    return [(seg, label)]


def _possessive_parts(seg: list["Token"], label: str) -> list[tuple[list["Token"], str]]:
    """"Vietnam's Communist Party", "Jeff Bezos's Blue Origin": one span, two names,
    when the article names one of them elsewhere on its own ("Dawson's Creek" stays).
    The owner is a GPE when the gazetteer knows it, a PERSON when it opens with a first
    name, else of the span's label; the owned name keeps the label (ORG for a PERSON span)."""
    for k, tok in enumerate(seg[1:-1], 1):
        if tok.tag_ == "POS" and seg[k + 1].text[:1].isupper():
            text = doc_text(seg[0].doc)
            owner, owned = seg[:k], seg[k + 1:]
            owner_name = text[owner[0].idx:owner[-1].idx + len(owner[-1])]
            owned_name = text[owned[0].idx:owned[-1].idx + len(owned[-1])]
            if text.count(owner_name) < 2 and text.count(owned_name) < 2:
                break
            owner_label = ("GPE" if is_place(owner_name) else "PERSON"
                           if len(owner) > 1 and first_name_gender(owner[0].text) else label)
            return [(owner, owner_label), (owned, "ORG" if label == "PERSON" else label)]
    return [(seg, label)]


def _raw_mentions(doc: "Doc") -> list[tuple[int, int, str, str]]:
    """(start_tok, end_tok, label, cleaned name) for kept NER spans, trimmed."""
    out = []
    full_text = doc_text(doc)
    for ent in doc.ents:
        if ent.label_ not in KEEP_LABELS:
            continue
        for seg, seg_label in (p for whole in _segments(ent)
                               for p in _split_affiliation(whole, ent.label_)):
            for part, label in _possessive_parts(seg, seg_label):
                if _only_titles([t.text for t in part if not t.is_punct]):
                    continue
                toks = _trim(part, label)
                a, b = toks[0].idx, toks[-1].idx + len(toks[-1])
                name = clean_surface(full_text[a:b], label)
                if not name or not any(c.isalpha() for c in name):
                    continue
                if label in ("PERSON", "ORG", "GPE") and _in_quote_marks(full_text, a, b):
                    label = "WORK_OF_ART"
                out.append((toks[0].i, toks[-1].i + 1, label, name))
    return out


_OPEN_QUOTES, _CLOSE_QUOTES = "“\"‘", "”\"’"


def _in_quote_marks(text: str, start: int, end: int) -> bool:
    """“Lucy Marlowe”, “ Dawson’s Creek ”: a name that is the whole of a quotation is
    the title of a work (a film, a book, a song), not a person or organisation."""
    before = text[max(0, start - 3):start].rstrip(" ")
    after = text[end:end + 5].lstrip(" ")
    after = after[2:] if after[:2] in ("'s", "’s") else after
    return before[-1:] in _OPEN_QUOTES and after[:1] in _CLOSE_QUOTES


def _only_titles(words: list[str]) -> bool:
    """"Rear Admiral", "Datuk Seri": titles with no name after them."""
    return len(words) > 1 and all(w.lower().rstrip(".") in TITLES for w in words)


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def _org_target(name: str, longs: list[tuple[str, str, int]]) -> str | None:
    """Undefined acronym: "EU", "U.S." -> "European Union", "United States" (exact
    initials; earliest wins)."""
    if " " in name or not name.isupper() or not _ACRONYM.match(name):
        return None
    letters = name.replace(".", "")
    for long, _, _ in longs:
        if len(long.split()) == len(letters) and _initials(long) == letters:
            return long
    return None


def _org_short_form(name: str, longs: list[tuple[str, str, int]], at: int) -> str | None:
    """"Vantor" after "Vantor Group Corp": an organisation named again without the
    designators of its full name ("Group", "Corp", "Inc"), introduced earlier in the
    article (the longest such name); not "Apple" for "Apple TV", nor a place."""
    words = name.split()
    if is_place(name):
        return None
    best = None
    for long, lab, first in longs:
        lw = long.split()
        if (lab == "ORG" and first < at and len(lw) > len(words) and lw[:len(words)] == words
                and all(is_org_designator(w) for w in lw[len(words):])
                and (best is None or len(lw) > len(best.split()))):
            best = long
    return best


def _org_cut_short(doc: "Doc", end: int, name: str,
                   longs: list[tuple[str, str, int]]) -> str | None:
    """"the New York State" + "Attorney General" in the text: a span the model cut
    short of an organisation's full name used elsewhere in the article."""
    stop = doc[end - 1].idx + len(doc[end - 1])
    after = doc_text(doc)[stop:stop + 80]
    for long, lab, _ in longs:
        if lab == "ORG" and long.startswith(name + " ") and after.startswith(long[len(name):]):
            return long
    return None


def _defined_acronyms(doc: "Doc", raw: list) -> dict[str, tuple[str, str]]:
    """Acronyms defined in brackets: acronym -> (long form, its label). "Long Form
    (ACR)", also when the long form opens with a qualifier the acronym leaves out
    ("Leeds Regional Flood Centre (RFC)") or the model cut it ("The Kent County Audit
    Office (KAO)": the capitalised words before the bracket are the long form then);
    and "ACR (Long Form)"."""
    acronyms: dict[str, tuple[str, str]] = {}
    by_end = {e: (lab, name) for _, e, lab, name in raw}
    by_start = {s: (lab, name) for s, _, lab, name in raw}
    for tok in doc[1:-2]:
        if tok.text != "(":
            continue
        inner = doc[tok.i + 1]
        if doc[tok.i + 2].text == ")" and _ACRONYM.match(inner.text):
            acr = inner.text
            if tok.i in by_end and _acronym_of(acr, by_end[tok.i][1], suffix=True):
                lab, long = by_end[tok.i]
                acronyms.setdefault(acr, (long, lab))
            elif (run := _capitalised_run(doc, tok.i, acr)) is not None:
                raw[:] = [m for m in raw if m[1] <= run or m[0] >= tok.i]
                long = doc[run:tok.i].text
                raw.append((run, tok.i, "ORG", long))
                acronyms.setdefault(acr, (long, "ORG"))
        elif tok.i in by_end and tok.i + 1 in by_start:
            acr = by_end[tok.i][1]
            lab, long = by_start[tok.i + 1]
            if (" " not in acr and len(acr) <= 6 and _acronym_of(acr, long)
                    and len(long.split()) >= len(acr) - 1):
                acronyms.setdefault(acr, (long, lab))
    return acronyms


def _capitalised_run(doc: "Doc", end: int, acr: str) -> int | None:
    """Start of the words before ``end`` (capitalised, or particles inside) whose
    initials spell ``acr``, the longest such run that starts on its first letter."""
    best = None
    i = end - 1
    while i >= 0 and end - i <= 10 and (doc[i].text[:1].isupper() or (
            doc[i].lower_ in NAME_PARTICLES and doc[i].lower_ != "the" and i < end - 1)):
        if doc[i].text[:1].isupper() and _acronym_of(acr, doc[i:end].text):
            best = i
        i -= 1
    return best


def _looks_like_person(name: str, alone: set[str]) -> bool:
    """"Marcelo Claure" tagged ORG: two or three capitalised words, a known first name
    first, and a last word that is not a first name ("Morgan Stanley") and that the
    article also uses on its own, as it does a surname ("Claure said")."""
    words = name.split()
    return (2 <= len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words)
            and first_name_gender(words[0]) is not None and words[-1] in alone
            and first_name_gender(words[-1]) is None and not is_place(name))


def _lone_capitalised(doc: "Doc") -> set[str]:
    """Capitalised words standing alone: no capitalised word before or after them."""
    def cap(i: int) -> bool:
        return 0 <= i < len(doc) and doc[i].text[:1].isupper() and doc[i].is_alpha
    return {t.text for t in doc if cap(t.i) and not cap(t.i - 1) and not cap(t.i + 1)
}


def _role_before(doc: "Doc", i: int) -> bool:
    """A lower-case role noun right before token ``i``: "quarterback Mason Reid"."""
    prev = doc[i - 1] if i > 0 else None
    return (prev is not None and prev.is_lower and prev.pos_ in ("NOUN", "PROPN")
            and (is_person_noun(prev.lemma_) or is_person_noun(prev.lower_)))


def _full_person_names(doc: "Doc", raw: list) -> dict[str, int]:
    """Full PERSON names (>= 2 words) with their first character offset; a non-PERSON
    mention that reads like a person's name counts too (and is relabelled)."""
    fulls: dict[str, int] = {}
    alone = _lone_capitalised(doc)
    for k, (s, e, lab, name) in enumerate(raw):
        if lab in ("ORG", "GPE") and (_looks_like_person(name, alone) or (
                2 <= len(name.split()) <= 3 and first_name_gender(name.split()[0])
                and not is_place(name) and _role_before(doc, s))):
            raw[k] = (s, e, "PERSON", name)
            lab = "PERSON"
        if lab == "PERSON" and len(name.split()) >= 2:
            fulls.setdefault(name, doc[s].idx)
    return fulls


def _add_first_names(doc: "Doc", raw: list) -> None:
    """"Oleksandr Syrsky" missed by the model while it tags "Syrsky" alone: a known first
    name right before a lone PERSON word, both outside any entity, makes a full name."""
    lone = {name for _, _, lab, name in raw if lab == "PERSON" and " " not in name}
    covered = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if (tok.text in lone and tok.i not in covered and prev.i not in covered
                and prev.is_title and prev.pos_ == "PROPN" and not prev.is_stop
                and prev.lower_.rstrip(".") not in TITLES and first_name_gender(prev.text)):
            raw.append((prev.i, tok.i + 1, "PERSON", f"{prev.text} {tok.text}"))


def _add_missed_names(doc: "Doc", raw: list, acronyms: dict, fulls: dict[str, int]) -> None:
    """Tokens the model missed: known surnames (extended over the first name before
    them) and defined acronyms."""
    covered = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    covered |= {i for s, e, _, _ in raw for i in range(s, e)}
    surnames = {n.split()[-1] for n in fulls}
    for tok in doc:
        if tok.i in covered or not tok.text[:1].isupper():
            continue
        if tok.text in acronyms:
            raw.append((tok.i, tok.i + 1, acronyms[tok.text][1], tok.text))
        elif tok.text in surnames and tok.tag_ in ("NNP", "NNPS", "NN", "NNS"):
            parts = {w for n in fulls if n.split()[-1] == tok.text for w in n.split()}
            s = tok.i  # extend left over uncovered name parts: "Omar Feld"
            while s > 0 and s - 1 not in covered and doc[s - 1].text in parts:
                s -= 1
            raw.append((s, tok.i + 1, "PERSON", doc[s:tok.i + 1].text))


def _link_names(doc: "Doc", raw: list, acronyms: dict,
                fulls: dict[str, int]) -> list[tuple[int, int, str, str]]:
    """(start_char, end_char, label, canonical name) for every mention: acronyms to
    their long form, partial person names to the full name, a lone word of a known
    person's name tagged ORG/GPE (surname "Burrage", first name "Fahmi") to that person."""
    full_list = sorted(fulls.items(), key=lambda kv: kv[1])
    full_index = _by_last_word(full_list)
    surnames = {n.split()[-1] for n in fulls}
    first_names = {n.split()[0] for n in fulls if first_name_gender(n.split()[0])}
    longs: dict[str, tuple[str, int]] = {}
    for s, _, lab, name in raw:
        if lab != "PERSON" and len(name.split()) >= 2:
            longs.setdefault(name, (lab, doc[s].idx))
    long_list = sorted(((n, lab, f) for n, (lab, f) in longs.items()), key=lambda x: x[2])
    linked = []
    for s, e, lab, name in sorted(raw):
        words = name.split()
        if name in acronyms:
            name, lab = acronyms[name]
        elif lab != "PERSON" and (target := _org_target(name, long_list)):
            name, lab = target, longs[target][0]
        elif lab == "ORG" and (target := _org_short_form(name, long_list, doc[s].idx)
                               or _org_cut_short(doc, e, name, long_list)):
            name = target
        elif lab != "PERSON" and len(words) == 1 and (
                name in surnames or name in first_names and not is_place(name)):
            lab = "PERSON"
        if lab == "PERSON" or (name in fulls):
            target = _person_target(name.split(), full_list, full_index)
            if target:
                name, lab = target, "PERSON"
        linked.append((doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), lab, name))
    return linked


_PLACE_PREPOSITIONS = frozenset("in from near across outside around throughout into".split())
# Prepositions that say "a place" even for a name no gazetteer holds ("author X, from Y").
_ORIGIN_PREPOSITIONS = frozenset("in from near outside".split())


def _head_token(doc: "Doc", start: int, end: int) -> "Token | None":
    """The syntactic head of the mention at chars [start, end)."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return None
    return span.root


def _person_evidence(doc: "Doc", start: int, end: int) -> bool:
    """A title or honorific before the mention ("Mr.", "Sen."), or the mention is the
    subject of a speech verb: then it names a person even if it is also a place."""
    before = doc_text(doc)[max(0, start - 20):start].split()
    if before and before[-1].lower().rstrip(".") in TITLES:
        return True
    head = _head_token(doc, start, end)
    return head is not None and head.dep_ == "nsubj" and cue_lemma(head.head) is not None


def _person_context(doc: "Doc", start: int, end: int, speech: bool = True) -> bool:
    """``_person_evidence`` (without the speech verb unless ``speech``), or a role or
    relation noun in apposition or before the name ("his wife, Mara", "Quill, the
    actor", "Fox News host Dana Quill"), or an age after the name ("Reyes, 42,")."""
    if speech and _person_evidence(doc, start, end):
        return True
    before = doc_text(doc)[max(0, start - 20):start].split()
    if before and before[-1].lower().rstrip(".") in TITLES:
        return True
    head = _head_token(doc, start, end)
    if head is None:
        return False
    if head.dep_ == "appos" and (is_person_noun(head.head.lemma_) or noun_gender(head.head.lemma_)):
        return True
    if any(c.dep_ == "appos" and (is_person_noun(c.lemma_) or noun_gender(c.lemma_))
           for c in head.children):
        return True
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is not None and _role_before(doc, span.start):
        return True
    after = doc_text(doc)[end:end + 6]
    return bool(re.match(r",\s?\d{1,3}\s?,", after))


def _org_context(doc: "Doc", start: int, end: int) -> bool:
    """An organisation's noun right with the name: "newspaper Dagens Blad", "the
    Fine Fair party", "the Ravens club"."""
    head = _head_token(doc, start, end)
    if head is None:
        return False
    if any(c.dep_ == "compound" and c.is_lower and c.i < head.i and is_org_noun(c.lemma_)
           for c in head.children):
        return True
    if (head.dep_ == "appos" and head.head.is_lower and is_org_noun(head.head.lemma_)
            and not first_name_gender(doc[head.i - 1].text if head.i else "")
            and not first_name_gender(head.text)):
        return True  # "the newspaper Dagens Blad", not "the team, Kim Hana"
    return (head.dep_ == "compound" and head.head.is_lower and head.head.i > head.i
            and is_org_noun(head.head.lemma_))


def _place_context(doc: "Doc", start: int, end: int,
                   preps: frozenset[str] = _PLACE_PREPOSITIONS) -> bool:
    """The mention is the object of a place preposition ("lives in Durban"), also as a
    later item of a list ("from Leeds, York and Hull")."""
    head = _head_token(doc, start, end)
    while head is not None and head.dep_ == "conj" and head.head is not head:
        head = head.head
    return (head is not None and head.dep_ == "pobj" and head.head.lower_ in preps)


def _modifies_noun(doc: "Doc", start: int, end: int) -> bool:
    """"a Halden hotel", "the Burbank studio": the name qualifies a
    common noun, as a place does."""
    head = _head_token(doc, start, end)
    return (head is not None and head.dep_ in ("compound", "nmod", "amod")
            and head.head.pos_ == "NOUN" and head.head.i > head.i)


def _modifies_any_noun(doc: "Doc", start: int, end: int) -> bool:
    """"the Nixon impeachment": the name qualifies a later noun, whose "the" it is."""
    head = _head_token(doc, start, end)
    return (head is not None and head.dep_ in ("compound", "nmod", "amod", "poss")
            and head.head.i > head.i)


def _qualifies_person_noun(doc: "Doc", start: int, end: int) -> bool:
    """"the Trump administration": the name qualifies a noun that a person's name does."""
    head = _head_token(doc, start, end)
    return (head is not None and head.dep_ == "compound" and head.head.i > head.i
            and is_person_attribute(head.head.lemma_))


def _after_the(doc: "Doc", start: int) -> bool:
    """"the Ravens", "the nationalist Sinn Féin": a definite article (and adjectives)
    right before the name, which a person's name does not take."""
    span = doc.char_span(start, start + 1, alignment_mode="expand")
    if span is None:
        return False
    i = span.start - 1
    while (i >= 0 and doc[i].pos_ == "ADJ" and doc[i].is_lower and doc[i].lower_ not in TITLES
           and not is_person_noun(doc[i].lemma_)):
        i -= 1
    return i >= 0 and doc[i].lower_ == "the"


# "on Twitter", "via Telegram": where a platform or medium is ("across Britain" is not).
_MEDIUM_PREPOSITIONS = frozenset("on via".split())
_CAMEL = re.compile(r"[a-z]{3}[A-Z]|^[A-Z]+[a-z]+[A-Z]{2}")


def _thing_context(doc: "Doc", start: int, end: int, name: str) -> bool:
    """Evidence that a one-word "person" is not one: a word shape no surname has
    ("BrightLoop", "ZenTrix"), a plural proper noun ("the Ravens", "Hornets"), a medium's
    preposition ("on Twitter"), a common noun it qualifies that no person's name does
    ("Twitter users", but "the Trump administration"), "said it" right after it
    ("Zentrix said it would"), or a class it is listed in ("companies such as
    Korvalt", "Zcoin and other tokens")."""
    head = _head_token(doc, start, end)
    if head is None:
        return False
    if _CAMEL.search(name) and not re.match(r"^(Mc|Mac|O')", name):
        return True
    if head.tag_ == "NNPS":
        return True
    if head.dep_ == "pobj" and head.head.lower_ in _MEDIUM_PREPOSITIONS:
        return True
    if (head.dep_ == "compound" and head.head.pos_ == "NOUN" and head.head.i > head.i
            and not is_person_attribute(head.head.lemma_)
            and not is_person_noun(head.head.lemma_)):
        return True
    nxt = doc[head.i + 1:head.i + 3]
    if len(nxt) == 2 and cue_lemma(nxt[0]) and nxt[1].lower_ in ("it", "its"):
        return True
    left = doc[max(0, head.i - 3):head.i]
    if len(left) >= 2 and left[-2].lower_ == "such" and left[-1].lower_ == "as":
        return True
    right = doc[head.i + 1:head.i + 3]
    return len(right) == 2 and right[0].lower_ in ("and", "or") and right[1].lower_ == "other"


def _mention_vote(doc: "Doc", start: int, end: int, label: str, name: str) -> str | None:
    """The label one mention votes for, or None when it cannot be a PERSON/ORG/GPE:
    calendar words are dropped; a place (gazetteer) is a GPE rather than a PERSON; a
    place or town the gazetteer knows is a GPE rather than an ORG or PERSON where the
    sentence reads as a place ("from Hermanus", "a Halden hotel");
    a "person" after "the" ("the Ravens") is an organisation."""
    if is_calendar_word(name):
        return None
    if " " not in name and is_demonym(name):
        return "NORP"
    if label == "ORG" and " " in name and is_law_word(name.split()[-1]):
        return "LAW"  # "the Clean Air Act", "the Status of Forces Agreement"
    if label == "PERSON" and is_place(name):
        return "GPE"
    if label in ("ORG", "PERSON") and (
            is_town(name) and _place_context(doc, start, end)
            or is_place(name) and _modifies_noun(doc, start, end)):
        return "GPE"
    if label == "PERSON" and (_org_context(doc, start, end) or (
            _after_the(doc, start) and not _modifies_any_noun(doc, start, end)
            and not first_name_gender(name.split()[0]))):
        return "ORG"
    return label


def _named_after_place(words: list[str]) -> bool:
    """"Leeds United", "Boston Scientific": a place's name and more that is no place
    ("Kansas City", "Gaza Strip") nor a person ("Florence Pugh")."""
    name = " ".join(words)
    return (is_place(words[0]) and not first_name_gender(words[0]) and not is_town(name)
            and not is_geo_feature(words[-1]))


def _list_items(tok: "Token") -> list["Token"]:
    """The items of the coordination ``tok`` stands in ("A, B and C"), ``tok`` included."""
    while tok.dep_ == "conj" and tok.head is not tok:
        tok = tok.head
    items, todo = [], [tok]
    while todo:
        t = todo.pop()
        items.append(t)
        todo += [c for c in t.children if c.dep_ == "conj"]
    return items


def _unknown_places_to_orgs(doc: "Doc", kept: list, label_of: dict[str, str],
                            person_seen: set[str]) -> None:
    """A "GPE" no gazetteer knows, that the article treats as an organisation, is an ORG:
    listed with organisations ("Marvel, Lucasfilm and Pixar"), a medium ("on Netflix"),
    or the employer before a role ("Quarrier analyst Dana Quill"). So is a one-word
    "person" listed with organisations ("the Ravens and Hornets") that no mention
    shows to be a person."""
    heads: dict[int, str] = {}
    spans = []
    for s, e, _, name in kept:
        head = _head_token(doc, s, e)
        if head is not None:
            heads[head.i] = label_of[name]
            after = doc.char_span(s, e, alignment_mode="expand")
            nxt = doc[after.end] if after is not None and after.end < len(doc) else None
            spans.append((head, name, nxt))
    for head, name, nxt in spans:
        items = [heads.get(t.i) for t in _list_items(head) if t.i != head.i]
        listed = items.count("ORG") >= 2 and not {"PERSON", "GPE"} & set(items)
        if (label_of[name] == "PERSON" and listed and " " not in name
                and name not in person_seen and not first_name_gender(name)):
            label_of[name] = "ORG"
        if label_of[name] != "GPE" or "." in name or is_geonames_name(name):
            continue
        if (listed
                or head.dep_ == "pobj" and head.head.lower_ in _MEDIUM_PREPOSITIONS
                or nxt is not None and nxt.is_lower and nxt.pos_ == "NOUN"
                and is_person_noun(nxt.lemma_)):
            label_of[name] = "ORG"


def _common_words(doc: "Doc") -> set[str]:
    """Words the article also writes in lower case ("the search box", "on court"): a
    one-word "organisation" or "person" spelt so ("Search", "Court") is that word
    capitalised in a heading or a longer name, not a name of its own."""
    lower = [t for t in doc if t.is_lower and t.is_alpha and len(t.text) > 2]
    proper = {t.text for t in lower if t.tag_ in ("NNP", "NNPS")}  # "flydubai"
    return {t.text for t in lower if t.tag_ in ("NN", "NNS")} - proper


def _winner(name: str, votes: Counter) -> str:
    """The majority label; a tie goes to GPE for a place the gazetteer knows, else to
    the first mention's label (a Counter keeps insertion order)."""
    top = max(votes.values())
    tied = [lab for lab, n in votes.items() if n == top]
    if len(tied) > 1 and "GPE" in tied and is_town(name):
        return "GPE"
    return tied[0]


def _vote_labels(doc: "Doc", linked: list) -> list[Mention]:
    """One label per canonical name: the majority of its mentions' votes (the first
    mention's label wins ties). A place named as a person wins GPE unless some mention
    shows it is a person (a title before it, a speech verb after it). A one-word
    "person" that is no first name, that no mention shows to be a person (title, speech
    verb, role or age in apposition) and that some mention shows not to be one
    (``_thing_context``) is an ORG; one found after "in"/"from" is a GPE."""
    votes: dict[str, Counter] = defaultdict(Counter)
    is_person: set[str] = set()
    person_seen: set[str] = set()
    thing_seen: set[str] = set()
    role_seen: set[str] = set()
    org_seen: set[str] = set()
    at_place: set[str] = set()
    kept = []
    for s, e, lab, name in linked:
        vote = _mention_vote(doc, s, e, lab, name)
        if vote is None:
            continue
        if lab == "PERSON" and vote == "GPE" and _person_evidence(doc, s, e):
            is_person.add(name)
        if lab == "PERSON" and _thing_context(doc, s, e, name):
            thing_seen.add(name)
        elif _person_context(doc, s, e):
            person_seen.add(name)
            if _person_context(doc, s, e, speech=False):
                role_seen.add(name)
        if _place_context(doc, s, e, _ORIGIN_PREPOSITIONS):
            at_place.add(name)
        if lab == "PERSON" and _org_context(doc, s, e):
            org_seen.add(name)
        votes[name][vote] += 1   # Counter keeps insertion order: max() returns the first
        kept.append((s, e, lab, name))
    label_of = {n: _winner(n, c) for n, c in votes.items()}
    for n, lab in label_of.items():
        words = n.split()
        if n in role_seen and (votes[n]["PERSON"] or len(words) > 1
                               and first_name_gender(words[0]) and not is_place(n)):
            label_of[n] = "PERSON"
        elif n in person_seen:
            continue
        elif lab == "PERSON" and n in org_seen:
            label_of[n] = "ORG"     # "the Fine Fair party" once: no person's name
        elif len(words) == 1:
            if first_name_gender(n):
                if votes[n]["PERSON"] == max(votes[n].values()):
                    label_of[n] = "PERSON"
            elif lab == "PERSON" and (n in thing_seen or n in at_place):
                label_of[n] = "GPE" if n in at_place else "ORG"
        elif lab in ("PERSON", "GPE") and _named_after_place(words):
            label_of[n] = "ORG"
    for n in is_person:
        label_of[n] = "PERSON"
    _unknown_places_to_orgs(doc, kept, label_of, person_seen)
    common = _common_words(doc)
    text = doc_text(doc)
    mentions = {Mention(s, e, text[s:e], label_of[name], name) for s, e, _, name in kept
                if not (name.lower() in common and label_of[name] in ("PERSON", "ORG")
                        and name not in is_person)}
    return sorted(mentions, key=lambda m: (m.start, m.end))


def link_entities(doc: "Doc") -> list[Mention]:
    """Every entity mention in the doc with its canonical name, sorted by start."""
    raw = _raw_mentions(doc)
    _add_first_names(doc, raw)
    acronyms = _defined_acronyms(doc, raw)
    fulls = _full_person_names(doc, raw)
    _add_missed_names(doc, raw, acronyms, fulls)
    return _vote_labels(doc, _merge_cities(_merge_case(_link_names(doc, raw, acronyms, fulls))))


def _merge_cities(linked: list) -> list:
    """"Kiev" and "Kyiv" in one article: one city (GeoNames), named as the article
    names it most (GeoNames' own name, else the first form, on a tie)."""
    forms: dict[int, Counter] = defaultdict(Counter)
    for _, _, lab, name in linked:
        if (cid := city_id(name)) is not None:
            forms[cid][name] += 1
    rename = {}
    for counts in forms.values():
        if len(counts) > 1:
            top = max(counts.values())
            tied = [n for n, c in counts.items() if c == top]
            best = next((n for n in tied if is_city_main_name(n)), tied[0])
            rename.update({n: best for n in counts})
    return [(s, e, lab, rename.get(name, name)) for s, e, lab, name in linked]


def _merge_case(linked: list) -> list:
    """"HALDEN" (a dateline), "DANA Quill" (a headline in capitals) and "Dana
    Quill": one name, spelt as the article spells it outside capitals when it does."""
    preferred: dict[str, str] = {}
    for _, _, _, name in linked:
        key = name.casefold()
        if key not in preferred or (preferred[key].isupper() or _has_caps_word(preferred[key])) \
                and not _has_caps_word(name):
            preferred[key] = name
    return [(s, e, lab, preferred[name.casefold()]) for s, e, lab, name in linked]


def _has_caps_word(name: str) -> bool:
    return any(len(w) > 1 and w.isupper() and w.isalpha() for w in name.split())


def canonical_name(mentions: list[Mention], surface: str, label: str | None = None,
                   before: int | None = None) -> str | None:
    """Resolve a surface form ("Feld", "Gov. Marsh", "Marsh's", "NTA") to the
    article's canonical name, or None. ``before`` limits the search to mentions
    starting before that char offset; ``label`` to mentions of that label."""
    pool = [m for m in mentions if (label is None or m.label == label)
            and (before is None or m.start < before)]
    if not pool:
        return None
    cleaned = clean_surface(surface, label)
    if not cleaned:
        return None
    low = cleaned.lower()
    for m in pool:  # exact name or surface
        if low in (m.name.lower(), clean_surface(m.text, m.label).lower()):
            return m.name
    first: dict[str, int] = {}
    for m in pool:
        if m.label == "PERSON":
            first.setdefault(m.name, m.start)
    return _person_target(cleaned.split(), sorted(first.items(), key=lambda kv: kv[1]))


def _group(mentions: Iterable[Mention]) -> dict[tuple[str, str], list[Mention]]:
    groups: dict[tuple[str, str], list[Mention]] = defaultdict(list)
    for m in mentions:
        groups[(m.name, m.label)].append(m)
    return groups


def entity_rows(article_id: str, mentions: list[Mention]) -> list[dict]:
    """Rows of ``schemas.ENTITIES``: one per distinct (name, label), by first mention."""
    rows = [{
        "article_id": article_id, "name": name, "label": label, "mentions": len(ms),
        "first_start": min(m.start for m in ms),
        "surface_forms": sorted({m.text for m in ms}),
    } for (name, label), ms in _group(mentions).items()]
    return sorted(rows, key=lambda r: (r["first_start"], r["name"]))


def mention_rows(article_id: str, mentions: list[Mention]) -> list[dict]:
    """Rows of ``schemas.MENTIONS``."""
    return [{"article_id": article_id, "start": m.start, "end": m.end, "text": m.text,
             "label": m.label, "name": m.name} for m in mentions]
