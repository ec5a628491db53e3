"""Selective analysis (``--nlp_parse selective``): NER on every sentence, the tagger and
parser only on the sentences the extractors read; the real model throughout."""
from __future__ import annotations

import pytest

from transforms.nlp.model import annotate_doc, load_model
from transforms.nlp.selective import parsed_runs, select_sentences

# Invented: narrative sentences with nothing an extractor reads the parse of, then a
# quote with its attribution, then narrative again.
TEXT = (
    "The valley road was quiet on a grey morning. Farmers walked their dogs along the "
    "river. The bakery opened late again. Snow covered the hills above the town.\n"
    "Mayor Ellen Marsh spoke at the market. “We will rebuild the bridge before winter,” "
    "Marsh said. She thanked the volunteers.\n"
    "The church bells rang at noon. Children played in the square. The wind dropped in "
    "the evening.")


@pytest.fixture(scope="module")
def selective():
    return load_model(parse="selective")


@pytest.fixture(scope="module")
def full():
    return load_model(parse="full")


def test_select_sentences_marks_overlaps_and_the_context_before():
    bounds = [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]
    assert select_sentences(bounds, [(32, 35)]) == [False, False, False, True, False]
    assert select_sentences(bounds, [(32, 35)], before=2) == [False, True, True, True, False]
    assert select_sentences(bounds, [(5, 25)]) == [True, True, True, False, False]
    chosen = select_sentences(bounds, [(45, 46)], chosen=[True, False, False, False, False])
    assert chosen == [True, False, False, False, True]
    assert select_sentences(bounds, []) == [False] * 5


def test_parsed_runs_join_consecutive_sentences():
    bounds = [(0, 3), (3, 7), (7, 9), (9, 12)]
    assert parsed_runs([True, True, False, True], bounds) == [(0, 7), (9, 12)]
    assert parsed_runs([False] * 4, bounds) == []


def test_only_the_sentences_read_are_parsed(selective):
    before = dict(selective.stats)
    doc = selective(TEXT)
    parsed = selective.stats["sentences_parsed"] - before["sentences_parsed"]
    seen = selective.stats["sentences"] - before["sentences"]
    assert 0 < parsed < seen
    quiet = next(s for s in doc.sents if s.text.startswith("The church bells"))
    assert {t.dep_ for t in quiet} <= {"ROOT", "dep"} and not any(t.tag_ for t in quiet)
    quoted = next(s for s in doc.sents if "Marsh said" in s.text)
    said = next(t for t in quoted if t.text == "said")
    assert said.lemma_ == "say" and any(c.dep_ == "nsubj" for c in said.children)


def test_sentences_entities_and_quotes_agree_with_the_full_parse(selective, full):
    a, b = selective(TEXT), full(TEXT)
    assert [(e.text, e.label_) for e in a.ents] == [(e.text, e.label_) for e in b.ents]
    assert [s.text for s in a.sents] == [s.text for s in b.sents]
    rows = lambda doc: annotate_doc("a", doc)  # noqa: E731
    assert rows(a)["quotes"] == rows(b)["quotes"]
    assert rows(a)["quotes"][0]["speaker"] == "Ellen Marsh"
    assert rows(a)["entities"] == rows(b)["entities"]


def test_an_unknown_parse_mode_is_refused():
    with pytest.raises(ValueError, match="parse must be one of"):
        load_model(parse="partial")


def test_pipe_keeps_order_and_empty_texts(selective):
    texts = ["", TEXT, "Prices rose 3% to $4.5 billion.", "   "]
    docs = list(selective.pipe(texts, batch_size=2))
    assert [d.text for d in docs] == texts


def test_the_fast_attribute_ruler_sets_what_spacy_s_sets(full):
    """``transforms.nlp.attributes``: the tag map by array lookup, the word rules by
    array masks, lemmas memoised; every token attribute as the model's own
    components set it, on text that fires the rules (contractions, "gonna", "there
    is", "it" as an object, whitespace tokens)."""
    import spacy

    from transforms.nlp.attributes import FastAttributeRuler
    from transforms.nlp.model import default_model

    ruler = full.get_pipe("attribute_ruler")
    assert isinstance(ruler, FastAttributeRuler) and ruler.words is not None
    lemmatizer = full.get_pipe("lemmatizer")
    assert type(lemmatizer).__name__.startswith("Memoised")
    index = lemmatizer.lookups.get_table("lemma_index")
    assert index and all(isinstance(words, frozenset) for words in index.values())
    own = spacy.load(default_model(), exclude=["senter"])
    texts = [TEXT + " Y'all ain't seen nothin' yet, she said. Let's go. I'm gonna win.",
             "There is a dog.  There's hope. Give it to me and you.\n\n  Got ta go. "
             "C'mon now. I do. He did it. They have won.  \n That is it. But, he said, not now.",
             "The mayors met. The mayors' plans were approved; mayors approve plans. " * 3,
             "The geese were running faster; the worst studies ran later and the oxen "
             "fled. Her daughters' ponies cried, and the wolves hid their knives."]
    key = lambda doc: [(t.tag_, t.pos_, str(t.morph), t.lemma_, t.dep_)  # noqa: E731
                       for t in doc]
    for text in texts:
        assert key(full(text)) == key(own(text))
