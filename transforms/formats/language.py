"""Which language an article is in, for deciding whether the English model reads it.

A declared language (a JSONL ``language`` field, ``--language``) is taken as given.
Otherwise py3langid ranks languages with normalised probabilities; a text is called
another language only when that is a confident call: the top language is not English,
its probability is at least ``MIN_CONFIDENCE``, and English function words (spaCy's
English stop words) are not a large share of its words. Short, lower-cased or
space-tokenised English ("montgomery county , md . - - $ 75 million ...") often gets a
wrong low-confidence label (``bs``, ``sk``, ``tk``); it is English here, so the article
is annotated rather than skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MIN_CONFIDENCE = 0.9        # probability of a non-English call
ENGLISH_WORD_SHARE = 0.3    # this share of English stop words makes a text English
MAX_CHARS = 20_000          # the prefix the identifier reads
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str | None       # ISO 639-1 code
    confidence: float          # identifier's probability of ``language`` (1.0 if declared)
    english_word_share: float  # share of words that are English stop words


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import _load_identifier   # the packaged model, probabilities
    return _load_identifier(norm_probs=True)


def english_word_share(text: str) -> float:
    from spacy.lang.en.stop_words import STOP_WORDS
    words = _WORD.findall(text[:MAX_CHARS].lower())
    return sum(w in STOP_WORDS for w in words) / len(words) if words else 0.0


def declared_code(declared: str | None) -> str | None:
    """``"en-GB"`` / ``"EN_us"`` -> ``"en"``; None for empty."""
    return (declared or "").replace("_", "-").split("-")[0].strip().lower() or None


def guess_language(text: str) -> LanguageGuess:
    """The identifier's best language for ``text`` and its confidence."""
    if not _WORD.search(text):
        return LanguageGuess(None, 0.0, 0.0)
    language, prob = _identifier().classify(text[:MAX_CHARS])
    return LanguageGuess(language, float(prob), english_word_share(text))


def is_confidently_other(guess: LanguageGuess) -> bool:
    """True when the text is confidently not English."""
    return (guess.language not in (None, "en") and guess.confidence >= MIN_CONFIDENCE
            and guess.english_word_share < ENGLISH_WORD_SHARE)


def identify_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``: ``declared`` when given, else the identifier's
    language when confidently not English, else ``"en"`` (None for a text without
    letters)."""
    if declared_code(declared):
        return declared_code(declared)
    guess = guess_language(text)
    if guess.language is None:
        return None
    return guess.language if is_confidently_other(guess) else "en"
