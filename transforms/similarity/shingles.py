"""Word shingles of an article's text, normalised so that syndicated copies match.

Normalisation: Unicode NFKC, case folded, words are runs of word characters
(``\\w+``), so punctuation (curly or straight quotes, dashes, apostrophes) and
whitespace never change a shingle. A shingle is ``k`` consecutive words joined
by one space; a text of fewer than ``k`` words is one shingle of all its words.
"""
from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, k: int) -> set[str]:
    """The set of ``k``-word shingles of ``text`` (empty when it has no words)."""
    if k < 1:
        raise ValueError(f"shingle size must be >= 1, got {k}")
    w = words(text)
    if len(w) <= k:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i:i + k]) for i in range(len(w) - k + 1)}


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
