"""spaCy's ``attribute_ruler`` with its tag map applied by array lookup.

The English pipelines map every fine-grained tag to a part of speech and morphology
with one ``[{"TAG": ...}]`` rule per tag, then refine a few words with more rules.
``AttributeRuler`` applies each match in Python (a ``Span`` and attribute writes per
token), which costs as much as the parser. ``FastAttributeRuler`` applies the tag rules
to all tokens at once (``Doc.to_array``/``from_array``) and the other rules through
spaCy's own ``AttributeRuler``. The result is the same because the matcher matches
before anything is set, no rule matches on what a tag rule sets, and every tag rule
comes before every other rule (later rules win); ``load_model`` checks that and keeps
the original component otherwise.
"""
from __future__ import annotations

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

    def __call__(self, doc):
        self._apply_tag_rules(doc)
        return self.rest(doc)

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
