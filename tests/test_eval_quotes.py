"""The quote evaluation: the repo's labelled set meets its targets; PolNeAR loads and
scores (skipped without ../shared unless REQUIRE_SHARED=1)."""
from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.eval_quotes import (LABELLED, PAGES_LABELLED, TARGETS_LABELLED, TARGETS_PAGES,
                                    eval_labelled, eval_pages, eval_polnear, load_labelled,
                                    load_pages, load_polnear)
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def polnear_root() -> Path:
    return shared_path("corpus", "quotes", "polnear")


def test_labelled_set_covers_every_case():
    arts = load_labelled(LABELLED)
    assert 15 <= len(arts) <= 30
    cases = {c for a in arts for c in a["cases"]}
    for needed in ("curly", "straight", "multi_paragraph", "speaker_before", "inverted",
                   "split_quote", "colon_paragraph", "according_to", "tweeted", "told",
                   "pronoun_she", "pronoun_he", "org_nominal", "org_pronoun_it",
                   "follow_on", "nested_single", "title_non_quote", "scare_quotes",
                   "partial", "unnamed_officials", "unbalanced_marks"):
        assert needed in cases, needed
    for a in arts:
        for q in a["quotes"]:
            assert a["text"][q["start"]:q["end"]] == q["quote"]


def test_labelled_set_meets_targets(nlp):
    arts = load_labelled(LABELLED)
    res = eval_labelled(arts, nlp.pipe(a["text"] for a in arts))
    for key, target in TARGETS_LABELLED.items():
        assert res[key] >= target, (key, res)


def test_polnear_gold_is_deduplicated_across_annotators(polnear_root):
    arts = load_polnear(polnear_root, "dev", None)
    assert len(arts) == 84
    assert sum(len(a["gold"]) for a in arts) > 300
    for a in arts:   # one gold quote per cluster: no two gold contents overlap
        spans = sorted((min(cs), max(cs)) for _, cs in a["gold"] if cs)
        assert all(b[0] > a_[1] for a_, b in zip(spans, spans[1:])), a["name"]


def test_polnear_dev_subset_scores(nlp, polnear_root):
    arts = load_polnear(polnear_root, "dev", 12)
    res = eval_polnear(arts, nlp.pipe(a["text"] for a in arts))
    assert res["gold"] > 20
    assert res["recall"] >= 0.85 and res["precision"] >= 0.85
    assert res["speaker_accuracy"] >= 0.8


@pytest.fixture(scope="module")
def real_pages() -> list[dict]:
    shared_path("corpus", "pages")
    return load_pages(PAGES_LABELLED)


def test_real_page_set_holds_offsets_not_text(real_pages):
    assert len(real_pages) >= 40
    assert sum(any(q["quote"] for q in p["quotes"]) for p in real_pages) >= 40
    assert sum(p["entities_complete"] for p in real_pages) >= 40
    stored = PAGES_LABELLED.read_text(encoding="utf-8")
    for page in real_pages:   # load_pages checked each page's sha256
        for q in page["quotes"]:
            assert 0 <= q["start"] < q["end"] <= len(page["text"])
            assert page["text"][q["start"]:q["end"]] not in stored or q["end"] - q["start"] < 25
        for e in page["entities"]:
            assert e["label"] in ("PERSON", "ORG", "GPE")


def test_real_pages_meet_targets(nlp, real_pages):
    res = eval_pages(real_pages, nlp.pipe(p["text"] for p in real_pages))
    for key, target in TARGETS_PAGES.items():
        assert res[key] >= target, (key, res)
    assert res["classes"]["pronoun"]["n"] >= 40
