"""Figure extraction and money parsing, over the real spaCy model, on invented text."""
from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import FIGURES
from transforms.nlp.figures import extract_figures, parse_money


def figs(nlp, text: str) -> list[dict]:
    return extract_figures(nlp(text))


def one(nlp, text: str, surface: str) -> dict:
    hits = [f for f in figs(nlp, text) if f["text"] == surface]
    assert len(hits) == 1, (surface, figs(nlp, text))
    return hits[0]


@pytest.mark.parametrize("text,value,high,unit,inferred,qual", [
    ("$200 billion", 2e11, None, "USD", True, None),
    ("£1.5bn", 1.5e9, None, "GBP", False, None),
    ("two million dollars", 2e6, None, "USD", True, None),
    ("$ 13.18 billion", 1.318e10, None, "USD", True, None),
    ("about $ 14 million", 1.4e7, None, "USD", True, "approx"),
    ("nearly $5 million", 5e6, None, "USD", True, "approx"),
    ("$10-$20", 10, 20, "USD", True, None),
    ("between $5 and $7 million", 5e6, 7e6, "USD", True, None),
    ("A$3.5m", 3.5e6, None, "AUD", False, None),
    ("C$ 300 million", 3e8, None, "CAD", False, None),
    ("HK$20", 20, None, "HKD", False, None),
    ("US$5", 5, None, "USD", False, None),
    ("us $ 150 million", 1.5e8, None, "USD", False, None),
    ("125 million Canadian dollars", 1.25e8, None, "CAD", False, None),
    ("323 million euros", 3.23e8, None, "EUR", False, None),
    ("€10M", 1e7, None, "EUR", False, None),
    ("EUR 125", 125, None, "EUR", False, None),
    ("50 cents", 0.5, None, "USD", True, None),
    ("at least ¥500 million", 5e8, None, "JPY", True, "at_least"),
    ("up to 100₾", 100, None, "GEL", False, "up_to"),
    ("thirteen dollars and forty-five cents", 13.45, None, "USD", True, None),
    ("a quarter million US dollars", 2.5e5, None, "USD", False, None),
])
def test_parse_money(text, value, high, unit, inferred, qual):
    got = parse_money(text)
    assert got is not None, text
    assert math.isclose(got["value"], value, rel_tol=1e-9)
    assert (got["value_high"] is None) == (high is None)
    if high is not None:
        assert math.isclose(got["value_high"], high, rel_tol=1e-9)
    assert (got["unit"], got["currency_inferred"], got["qualifier"]) == (unit, inferred, qual)


@pytest.mark.parametrize("text", ["", "$$$", "1e999", "ALL 5 solutions", "42", "five people",
                                  "9" * 400 + " dollars", "\u200b$\u0000", "from $ to"])
def test_parse_money_rejects(text):
    assert parse_money(text) is None


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_parse_money_never_raises(text):
    got = parse_money(text)
    assert got is None or math.isfinite(got["value"])


def test_spec_examples(nlp):
    text = ("More than 3 million residents paid nearly $5 million, about 40% more. "
            "Prices rose 3.2 per cent and fares cost $10-$20. "
            "Turnout rose between 5 and 7 percent.")
    f = one(nlp, text, "More than 3 million")
    assert (f["kind"], f["value"], f["unit"], f["qualifier"]) == ("count", 3e6, "resident",
                                                                   "more_than")
    f = one(nlp, text, "nearly $5 million")
    assert (f["kind"], f["value"], f["unit"], f["currency_inferred"], f["qualifier"]) == (
        "money", 5e6, "USD", True, "approx")
    f = one(nlp, text, "about 40%")
    assert (f["kind"], f["value"], f["unit"], f["qualifier"]) == ("percent", 40, "percent",
                                                                   "approx")
    assert one(nlp, text, "3.2 per cent")["value"] == 3.2
    f = one(nlp, text, "$10-$20")
    assert (f["value"], f["value_high"]) == (10, 20)
    f = one(nlp, text, "between 5 and 7 percent")
    assert (f["kind"], f["value"], f["value_high"]) == ("percent", 5, 7)


def test_counted_norp_kept(nlp):
    f = one(nlp, "Only 12 Republicans voted for the 3 amendments.", "12")
    assert (f["kind"], f["value"]) == ("count", 12)


def test_quantity_and_duration(nlp):
    text = "The 300 metres bridge took three years to build and weighs 5,000 tons."
    f = one(nlp, text, "three years")
    assert (f["kind"], f["value"], f["unit"]) == ("duration", 3, "year")
    f = one(nlp, text, "5,000 tons")
    assert (f["kind"], f["value"], f["unit"]) == ("quantity", 5000, "ton")


@pytest.mark.parametrize("text", [
    "The G-20 met in Osaka in 2019.",
    "COVID-19 spread quickly.",
    "Airlines grounded the Boeing 737 fleet.",
    "Lawmakers debated Section 230 again.",
    "Call 555-201-7788 or (555) 201-7789 today.",
    "The meeting starts at 9:30 on May 5, 2021.",
    "Ellen Marsh, 45, finished third in the race.",
    "The 45-year-old mayor was born in 1979.",
    "The 1990s were a decade of change.",
    "He left three years ago.",
    "Version 3.5.1 fixes the bug.",
    "In the financial year 2016/17 the council met.",
    "Half Life is a game; hundreds of thousands played it.",
    "Protein keeps you full longer (16).",
])
def test_non_figures(nlp, text):
    assert figs(nlp, text) == [], text


def test_offsets_and_rows(nlp):
    text = ("Gov. Ellen Marsh said the Northfield Transit Authority (NTA) will spend "
            "$1.2 billion over 10 years.\nAbout 40% of the 1,200 buses, or 480 vehicles, "
            "are older than 15 years. Fares rise 5-7% to €2.50.")
    doc = nlp(text)
    rows = extract_figures(doc)
    assert len(rows) >= 6
    prev_end = 0
    for r in rows:
        assert doc.text[r["start"]:r["end"]] == r["text"]
        assert r["start"] < r["end"] and r["start"] >= prev_end
        prev_end = r["end"]
        assert r["text"] in r["sentence"]
        assert r["kind"] in {"money", "percent", "count", "quantity", "duration"}
        assert (r["currency_inferred"] is not None) == (r["kind"] == "money")
    table = pa.Table.from_pylist([{"article_id": "a1", **r} for r in rows], schema=FIGURES)
    assert table.num_rows == len(rows)
    assert {"$1.2 billion", "About 40%", "5-7%", "€2.50"} <= {r["text"] for r in rows}


def test_lowercase_newswire(nlp):
    text = ("the company said net rose 15 % to $ 415.9 million , "
            "or 125 million australian dollars .")
    by_text = {r["text"]: r for r in figs(nlp, text)}
    assert by_text["$ 415.9 million"]["value"] == 4.159e8
    assert by_text["125 million australian dollars"]["unit"] == "AUD"
    assert by_text["15 %"]["kind"] == "percent"


@pytest.mark.parametrize("text", ["", " ", "$$$", "1e999", "$" * 50 + "1" * 400,
                                  "9" * 500 + " dollars", "\u200b\u0000 12 \ufeff%",
                                  "between and to - – 5 -", "½ ⅓ 2 1/0 3/ 0/0", "ＭＭ５０"])
def test_never_raises_on_odd_text(nlp, text):
    for r in figs(nlp, text):
        assert r["value"] is None or math.isfinite(r["value"])


_PIECES = list("0123456789$€£%.,-–/ abkmMnBT") + ["million ", "about ", "to ", "and ",
                                                   "between ", "US", "C", "cents "]


@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_extract_never_raises_fuzz(nlp, text):
    doc = nlp(text)
    for r in extract_figures(doc):
        assert doc.text[r["start"]:r["end"]] == r["text"]
        assert math.isfinite(r["value"])



def test_run_on_sentence_context_is_bounded(nlp):
    text = " ".join(f"{i} dogs and {i} cats" for i in range(300))
    rows = extract_figures(nlp(text))
    assert len(rows) > 500
    for row in rows:
        assert len(row["sentence"]) <= 600 and row["text"] in row["sentence"]
        assert row["sentence"] in text


def test_currency_symbols_are_kept_on_disk_per_babel_version(tmp_path, monkeypatch):
    """CLDR's symbol votes are computed once per machine, not once per process."""
    import babel

    from transforms.nlp import numbers

    monkeypatch.setenv("NEWS_PIPELINE_CACHE", str(tmp_path))
    fresh = numbers._cldr_symbol_votes()
    assert numbers._symbol_votes() == fresh  # computed, then written
    (path,) = tmp_path.glob("*.json")
    assert babel.__version__ in path.name
    assert numbers._symbol_votes() == fresh  # read back
    assert max(fresh["£"], key=fresh["£"].get) == "GBP"
