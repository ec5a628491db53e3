"""Word lists for quote attribution: speech verbs, organisation nouns, title cues."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from spacy.tokens import Token

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
# Cues that also have a plain sense ("criminals had begun relations", "agreed to"): a
# reporting verb above them in the sentence is the real cue.
WEAK_CUES = frozenset("""
begin start put hit fire push press shoot think believe agree offer call question order
sing read continue answer charge attack thank praise describe
""".split())
# Cues whose passive subject is the one spoken to: "Ishiba was asked, “…”".
ADDRESSEE_CUES = frozenset("ask tell question urge inform".split())
# Entity types that are never a speaker ("in October", "on Monday", "20 percent").
NOT_SPEAKER_ENTS = frozenset("DATE TIME CARDINAL ORDINAL PERCENT MONEY QUANTITY".split())
ORG_NOUNS = frozenset("""
company firm agency department ministry bank campaign group organization organisation
committee council party government administration office court university school
hospital union association commission board authority corporation club team network
newspaper station police embassy airline retailer insurer utility foundation institute
center centre league coalition bureau regulator regime army military airport museum
""".split())
DOC_NOUNS = frozenset("statement tweet post letter email release message note memo "
                       "website account ad video".split())
PERSON_PRONOUNS = {"he": "m", "she": "f"}
MINOR_WORDS = frozenset("a an the of and or nor but in on at for to with by from vs de is are "
                   "as into".split())
SENT_END = frozenset(".!?")
TITLE_CUES = frozenset("""
on in of for from to at as titled entitled called named dubbed show program programme
series film movie book novel memoir album song play musical documentary podcast column
magazine newspaper episode headline hashtag article essay sitcom drama anthem poem
told tells telling
""".split())


def _forms(lemma: str) -> set[str]:
    stem = lemma[:-1] if lemma.endswith("e") else lemma
    out = {lemma, lemma + "s", lemma + "es", lemma + "d", lemma + "ed", stem + "ing",
           lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}
    if lemma.endswith("y"):
        out |= {lemma[:-1] + "ies", lemma[:-1] + "ied"}
    return out


CUE_FORMS = {f: lem for lem in CUE_LEMMAS for f in _forms(lem)} | _IRREGULAR


def cue_lemma(tok: "Token") -> str | None:
    """The cue lemma when ``tok`` is a speech verb ("tweeted" -> "tweet"), else None."""
    if tok.pos_ not in ("VERB", "AUX") and not tok.tag_.startswith("VB"):
        return None
    lem = tok.lemma_.lower()
    if lem in CUE_LEMMAS:
        return lem
    return CUE_FORMS.get(tok.lower_)
