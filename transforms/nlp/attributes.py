"""spaCy's ``attribute_ruler`` with its tag map applied by array lookup.

The English pipelines map every fine-grained tag to a part of speech and morphology
with one ``[{"TAG": ...}]`` rule per tag, then refine a few words with more rules.
``AttributeRuler`` runs its ``Matcher`` over every token for every rule and applies each
match in Python (a ``Span`` and attribute writes per token), which costs as much as the
parser. ``FastAttributeRuler`` applies the tag rules to all tokens at once
(``Doc.to_array``/``from_array``) and evaluates the other rules as boolean masks over
the token arrays (``WordRules``: one- and two-token patterns on LOWER, TAG, DEP and
IS_SPACE with equality, IN, NOT_IN and REGEX, which is what the English pipelines use;
other rule sets go through spaCy's own ``AttributeRuler``). The result is the same
because the matcher matches before anything is set, no rule matches on what a tag rule
sets, every tag rule comes before every other rule, and later rules win; ``load_model``
checks that and keeps the original component otherwise.

``memoise_lemmas`` makes the rule lemmatizer look each (word, part of speech,
morphology) up once per process: spaCy's own cache skips the words it returns early
(base forms, the most frequent), which it recomputes token by token. It also makes
the lookups of its word index by set: ``rule_lemmatize`` asks ``form in index`` of
a list of up to 58,000 words for each candidate form, which made a cold process
spend 2.5 s on the corpus's 18,000 distinct words (0.4 s by set; the same lemmas).
"""
from __future__ import annotations

import re

import numpy as np
from spacy.language import Language

FACTORY = "news_fast_attribute_ruler"


def tag_rule(pattern: dict) -> str | None:
    """The tag of a rule that matches one token by its tag alone, else None."""
    toks = pattern["patterns"]
    if len(toks) != 1 or len(toks[0]) != 1 or set(toks[0][0]) != {"TAG"}:
        return None
    tag = toks[0][0]["TAG"]
    return tag if isinstance(tag, str) and pattern.get("index", 0) in (0, -1) else None


def splits_cleanly(patterns: list[dict]) -> bool:
    """Every tag rule precedes every other rule, and tag rules set only POS/MORPH."""
    kinds = [tag_rule(p) is not None for p in patterns]
    first_other = kinds.index(False) if False in kinds else len(kinds)
    return not any(kinds[first_other:]) and all(
        set(p["attrs"]) <= {"POS", "MORPH"} for p, is_tag in zip(patterns, kinds) if is_tag)


# The token attributes ``WordRules`` reads, as Matcher pattern keys.
RULE_KEYS = ("LOWER", "TAG", "DEP", "IS_SPACE")


class WordRules:
    """The non-tag rules of an ``AttributeRuler``, matched by array masks.

    ``ruler``: an ``AttributeRuler`` holding exactly these rules (its normalised
    attributes and indices are reused). Raises ``ValueError`` for a pattern outside
    the subset it evaluates."""

    def __init__(self, ruler, patterns: list[dict]):
        from spacy.attrs import DEP, IS_SPACE, LOWER, TAG

        self.strings = ruler.vocab.strings
        self.columns = {"LOWER": LOWER, "TAG": TAG, "DEP": DEP, "IS_SPACE": IS_SPACE}
        self.rules = []  # (token specs per pattern, index, attrs) in rule order
        for number, rule in enumerate(patterns):
            compiled = [[self._spec(token) for token in pattern] for pattern in rule["patterns"]]
            if any(not 1 <= len(pattern) <= 2 for pattern in compiled):
                raise ValueError("only one- and two-token patterns")
            self.rules.append((compiled, ruler.indices[number], ruler.attrs[number]))

    def _spec(self, token: dict) -> list[tuple[str, str, object]]:
        """One token's tests: (column, operator, operand)."""
        tests = []
        for key, value in token.items():
            if key not in RULE_KEYS:
                raise ValueError(f"unsupported pattern key {key}")
            if key == "IS_SPACE":
                if not isinstance(value, bool):
                    raise ValueError("IS_SPACE takes a bool")
                tests.append((key, "==", int(value)))
            elif isinstance(value, str):
                tests.append((key, "==", self.strings.add(value) if value else 0))
            elif isinstance(value, dict) and len(value) == 1:
                (op, operand), = value.items()
                if op in ("IN", "NOT_IN") and all(isinstance(v, str) for v in operand):
                    hashes = np.array([self.strings.add(v) if v else 0 for v in operand],
                                      dtype=np.uint64)
                    tests.append((key, op, hashes))
                elif op == "REGEX" and isinstance(operand, str) and key != "IS_SPACE":
                    tests.append((key, op, re.compile(operand).search))
                else:
                    raise ValueError(f"unsupported operator {op}")
            else:
                raise ValueError(f"unsupported value for {key}")
        return tests

    def _mask(self, tests, arrays: dict, cache: dict) -> np.ndarray:
        mask = np.ones(len(arrays["LOWER"]), dtype=bool)
        for column, op, operand in tests:
            values = arrays[column]
            if op == "==":
                mask &= values == operand
            elif op == "REGEX":
                found = cache.setdefault((column, operand), {})
                hits = [h for h in np.unique(values).tolist()
                        if found.setdefault(h, bool(operand(self.strings[h])))]
                mask &= np.isin(values, np.array(hits, dtype=np.uint64))
            else:
                mask &= np.isin(values, operand) == (op == "IN")
        return mask

    def __call__(self, doc) -> None:
        """Set the attributes of every match on ``doc``, later rules winning."""
        from spacy.attrs import LEMMA, MORPH, POS
        from spacy.tokens._retokenize import set_token_attrs

        n = len(doc)
        table = doc.to_array([self.columns[k] for k in RULE_KEYS]).reshape(n, len(RULE_KEYS))
        arrays = {k: table[:, i] for i, k in enumerate(RULE_KEYS)}
        cache: dict = {}
        final: dict[int, dict] = {}
        for compiled, index, attrs in self.rules:
            for pattern in compiled:
                mask = self._mask(pattern[0], arrays, cache)
                if len(pattern) == 2:
                    mask = mask[:-1] & self._mask(pattern[1], arrays, cache)[1:]
                for start in np.flatnonzero(mask).tolist():
                    at = start + index if index >= 0 else start + len(pattern) + index
                    final.setdefault(at, {}).update(attrs)
        if not final:
            return
        written = (POS, MORPH, LEMMA)
        values = doc.to_array(list(written))
        for at, attrs in final.items():
            for attr, value in attrs.items():
                if attr in written:
                    values[at, written.index(attr)] = value
                else:  # TAG, DEP: rare (whitespace), set as the ruler sets them
                    set_token_attrs(doc[at], {attr: value})
        doc.from_array(list(written), values)


class FastAttributeRuler:
    """``AttributeRuler`` over ``patterns`` (its own ``patterns`` list), tag rules by lookup."""

    def __init__(self, vocab, name: str, patterns: list[dict]):
        from spacy.parts_of_speech import IDS as POS_IDS
        from spacy.pipeline import AttributeRuler

        if not splits_cleanly(patterns):
            raise ValueError("attribute rules do not split into tag rules then the rest")
        self.vocab, self.name = vocab, name
        self.by_tag: dict[int, tuple[int | None, int | None]] = {}
        rest = []
        for pattern in patterns:
            tag = tag_rule(pattern)
            if tag is None:
                rest.append(pattern)
                continue
            attrs = pattern["attrs"]
            pos = POS_IDS[attrs["POS"]] if "POS" in attrs else None
            morph = vocab.morphology.add(attrs["MORPH"]) if "MORPH" in attrs else None
            key = vocab.strings.add(tag)
            old = self.by_tag.get(key, (None, None))
            self.by_tag[key] = (pos if pos is not None else old[0],
                                morph if morph is not None else old[1])
        self.rest = AttributeRuler(vocab, name=f"{name}.rest")
        self.rest.add_patterns(rest)
        try:
            self.words: WordRules | None = WordRules(self.rest, rest)
        except ValueError:
            self.words = None  # rules outside what WordRules evaluates: spaCy's matcher

    def __call__(self, doc):
        self._apply_tag_rules(doc)
        if self.words is None:
            return self.rest(doc)
        if len(doc):
            self.words(doc)
        return doc

    def pipe(self, docs, batch_size: int = 128):
        for doc in docs:
            yield self(doc)

    def _apply_tag_rules(self, doc) -> None:
        from spacy.attrs import MORPH, POS, TAG

        if not len(doc):
            return
        arr = doc.to_array([TAG, POS, MORPH])
        changed = False
        for row in arr:
            found = self.by_tag.get(int(row[0]))
            if found is not None:
                pos, morph = found
                if pos is not None:
                    row[1] = pos
                if morph is not None:
                    row[2] = morph
                changed = True
        if changed:
            doc.from_array([POS, MORPH], arr[:, 1:])


@Language.factory(FACTORY, default_config={"patterns": []})
def make_fast_attribute_ruler(nlp: Language, name: str, patterns: list[dict]):
    return FastAttributeRuler(nlp.vocab, name, patterns)


def speed_up(nlp) -> bool:
    """Swap the pipeline's ``attribute_ruler`` for ``FastAttributeRuler`` where its rules
    split cleanly; whether it did."""
    if "attribute_ruler" not in nlp.pipe_names:
        return False
    patterns = nlp.get_pipe("attribute_ruler").patterns
    if not splits_cleanly(patterns):
        return False
    nlp.replace_pipe("attribute_ruler", FACTORY, config={"patterns": patterns})
    return True


def memoise_lemmas(nlp) -> bool:
    """Make the pipeline's rule ``lemmatizer`` compute each (orth, POS, morphology)
    once per process and set lemmas by array; whether it did. The lemma of a token is a
    function of those three (``Lemmatizer.rule_lemmatize`` keys its own cache so)."""
    from spacy.pipeline import Lemmatizer

    if "lemmatizer" not in nlp.pipe_names:
        return False
    lemmatizer = nlp.get_pipe("lemmatizer")
    kind = type(lemmatizer)
    if (getattr(lemmatizer, "mode", None) != "rule" or kind.__call__ is not Lemmatizer.__call__
            or not isinstance(lemmatizer, Lemmatizer)):
        return False
    lemmatizer.__class__ = type(f"Memoised{kind.__name__}", (kind,), {"__call__": _memo_call})
    index_by_set(lemmatizer)
    return True


def index_by_set(lemmatizer) -> None:
    """Hold the lemmatizer's word index of each part of speech as a set: it is only
    asked whether a form is in it (``Lemmatizer.rule_lemmatize``), and a list answers
    that word by word. (The lookups can no longer be serialised; the pipeline never does.)"""
    table = lemmatizer.lookups.get_table("lemma_index", None)
    for pos, words in list((table or {}).items()):
        if isinstance(words, list):
            table[pos] = frozenset(words)


def _memo_call(self, doc):
    """``Lemmatizer.__call__`` with a per-process memo of lemmas."""
    from spacy.attrs import LEMMA, MORPH, ORTH, POS
    from spacy.errors import Errors

    if not self._validated:
        self._validate_tables(Errors.E1004)
    if not len(doc):
        return doc
    memo = self.__dict__.setdefault("_news_memo", {})
    strings = doc.vocab.strings
    try:
        table = doc.to_array([ORTH, POS, MORPH, LEMMA])
        lemmas = table[:, 3].copy()
        todo = np.flatnonzero(lemmas == 0) if not self.overwrite else np.arange(len(doc))
        if len(todo):
            keys, first, inverse = np.unique(table[todo, :3], axis=0, return_index=True,
                                             return_inverse=True)
            found = np.empty(len(keys), dtype=np.uint64)
            for k, (key, at) in enumerate(zip(map(tuple, keys.tolist()), first.tolist())):
                value = memo.get(key)
                if value is None:
                    value = memo[key] = strings.add(self.lemmatize(doc[int(todo[at])])[0])
                found[k] = value
            lemmas[todo] = found[inverse.reshape(-1)]
        doc.from_array([LEMMA], lemmas.reshape(-1, 1))
        return doc
    except Exception as e:  # noqa: BLE001 - spaCy's own error handling
        self.get_error_handler()(self.name, self, [doc], e)
