"""Property-based tests of the extractors on hostile text (hypothesis).

Arbitrary text, unbalanced quotation marks, absurd numbers and odd Unicode never
make ``link_entities``, ``extract_figures`` or ``extract_quotes`` raise; every
offset indexes the text exactly; and every row fits its table's schema (a row
that does not would fail the Parquet write, i.e. the whole run).
"""
from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import schemas
from transforms.nlp.entities import entity_rows, link_entities, mention_rows
from transforms.nlp.figures import extract_figures
from transforms.nlp.model import parse_texts
from transforms.nlp.quotes import extract_quotes

QUOTE_MARKS = list('"“”«»„‟‘’\'‹›「」『』〝〞＂')
ODD = list("\u00a0\u2009\u200b\u200d\u200e\u202e\u0301\u0308\ufeff\u2028\u2029\t\r\x0b\x0c"
           "\U0001F600\U0001F1EB\U0001F1F7\u0663\u0967\u4e07\u5104\uff11\u00bd\u2153\u00b2")
WORDS = ["Omar", "T.", "Feld", "Gov.", "Ellen", "Marsh", "said", "says", "told", "added", "the",
         "council", "Northfield", "Transit", "Authority", "(NTA)", "NTA", "he", "she", "they",
         "$", "US$", "€", "£", "¥", "%", "percent", "per", "cent", "million", "billion", "trillion",
         "about", "nearly", "more", "than", "up", "to", "at", "least", "-", "–", "—", "/", ",", ".",
         ":", ";", "?", "!", "(", ")", "\n", "\n\n", "km", "kg", "mph", "°C", "years", "days", "a",
         "dozen", "half", "one", "twenty-one", "hundred", "thousand", "1/2", "3.", ".5", "1e308",
         "NaN", "inf", "0x1F", "1,2,3", "1..2", "$$", "%%", "-0", "+7"]
NUMBERS = st.one_of(
    st.integers(-10**60, 10**60).map(str),
    st.integers(0, 10**60).map(lambda n: f"{n:,}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds(lambda d, e: f"{d}e{e}", st.integers(0, 999), st.integers(-400, 400)),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**20), st.integers(0, 10**20)),
    st.text(alphabet="0123456789,.", min_size=1, max_size=40),
)
TOKENS = st.one_of(st.sampled_from(WORDS), NUMBERS, st.sampled_from(QUOTE_MARKS),
                   st.sampled_from(ODD), st.text(max_size=6))
SEPARATORS = st.sampled_from([" ", " ", " ", "", "\n", "  "])
QUOTED = st.lists(st.builds(
    lambda o, words, c, who, cue, tail: f"{o}{' '.join(words)}{c} {who} {cue}{tail}",
    st.sampled_from(QUOTE_MARKS + [""]), st.lists(TOKENS, min_size=1, max_size=12),
    st.sampled_from(QUOTE_MARKS + [""]),
    st.sampled_from(["Omar Feld", "Gov. Ellen Marsh", "she", "the NTA", "Marsh", ""]),
    st.sampled_from(["said", "told reporters", "added", "says", ""]),
    st.sampled_from([".", ",", "\n", " ", ""])), max_size=12).map(" ".join)
TEXTS = st.one_of(
    QUOTED,
    st.lists(st.tuples(TOKENS, SEPARATORS), max_size=120).map(
        lambda parts: "".join(t + s for t, s in parts)),
    st.text(max_size=400),
    st.text(alphabet=QUOTE_MARKS + [" ", "a", "\n", "9"], max_size=400),
)
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _fits(table: str, rows: list[dict]) -> None:
    pa.Table.from_pylist([{**r, "article_id": "a"} for r in rows], schema=schemas.TABLES[table])


@SETTINGS
@given(text=TEXTS, chunk=st.sampled_from([100_000, 64]))
def test_extractors_never_raise_and_offsets_index_the_text(nlp, text, chunk):
    doc, = parse_texts(nlp, [text], max_chunk_chars=chunk)
    assert doc.text == text
    mentions = link_entities(doc)
    figures = extract_figures(doc)
    quotes = extract_quotes(doc, mentions)
    event(f"mentions={bool(mentions)} figures={bool(figures)} quotes={bool(quotes)}")
    for row in mention_rows("a", mentions):
        assert 0 <= row["start"] <= row["end"] <= len(text)
        assert text[row["start"]:row["end"]] == row["text"], row
    for row in figures:
        assert 0 <= row["start"] <= row["end"] <= len(text)
        assert text[row["start"]:row["end"]] == row["text"], row
    for row in quotes:
        assert 0 <= row["start"] <= row["end"] <= len(text)
        assert text[row["start"]:row["end"]] == row["quote"], row
    for row in entity_rows("a", mentions):
        assert 0 <= row["first_start"] < len(text)


@SETTINGS
@given(text=TEXTS)
def test_extractor_rows_fit_their_table_schemas(nlp, text):
    doc, = parse_texts(nlp, [text])
    mentions = link_entities(doc)
    _fits("mentions", mention_rows("a", mentions))
    _fits("entities", entity_rows("a", mentions))
    _fits("figures", extract_figures(doc))
    _fits("quotes", extract_quotes(doc, mentions))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 200), marks=st.lists(st.sampled_from(QUOTE_MARKS), min_size=1, max_size=5),
       digits=st.integers(1, 120))
def test_thousands_of_unbalanced_marks_and_huge_numbers(nlp, n, marks, digits):
    text = " ".join(f"{marks[i % len(marks)]}Omar Feld said {'9' * digits} billion" for i in range(n))
    doc, = parse_texts(nlp, [text])
    mentions = link_entities(doc)
    for row in extract_quotes(doc, mentions):
        assert text[row["start"]:row["end"]] == row["quote"]
    for row in extract_figures(doc):
        assert text[row["start"]:row["end"]] == row["text"]
