"""Language identification and short ``text`` records: English is annotated, however
short or lower-cased; only confidently other languages are skipped; a declared
language (JSONL field, ``--language``) is taken as given. Invented sentences only."""
from __future__ import annotations

import json

import pytest

from tests.conftest import read_table, run_pipeline
from transforms.formats.language import guess_language, identify_language
from transforms.formats.document import Document
from transforms.formats.page import NoMainText, clean_document

GERMAN = ("Der Stadtrat hat am Dienstag beschlossen, die alte Brücke über den Fluss "
          "bis zum Herbst zu sanieren. Die Arbeiten sollen im Frühjahr beginnen und "
          "werden nach Angaben der Verwaltung etwa drei Monate dauern.")
SHORT_ENGLISH = [
    "northfield water co . paid $ 94,000 to settle the claims .",
    "council backs new bridge",
    "Give me 5 dollars",
    "the board approved a $48.2 million contract for the depot .",
]


@pytest.mark.parametrize("text", SHORT_ENGLISH)
def test_short_and_lower_case_english_is_english(text):
    assert identify_language(text) == "en"


def test_a_confident_other_language_is_kept_as_detected():
    guess = guess_language(GERMAN)
    assert guess.language == "de" and guess.confidence >= 0.9
    assert identify_language(GERMAN) == "de"


def test_a_declared_language_wins_over_detection():
    assert identify_language(GERMAN, declared="en-GB") == "en"
    assert identify_language("the council met on tuesday", declared="fr") == "fr"


def test_a_text_without_letters_has_no_language():
    assert identify_language("$ 99.99 -- 12 %") is None


def _doc(**fields):
    return Document(source="x.jsonl:1", input_format="jsonl", **fields)


def test_text_records_are_kept_however_short():
    row = clean_document(_doc(text="council backs new bridge"), min_chars=200)
    assert row["text"] == "council backs new bridge" and row["language"] == "en"


def test_a_text_record_of_whitespace_is_an_error_that_says_so():
    with pytest.raises(NoMainText, match="text is empty"):
        clean_document(_doc(text="  \n "), min_chars=200)


def test_a_short_page_error_names_the_option_and_what_was_found():
    html = "<html><body><article><p>Council backs new bridge.</p></article></body></html>"
    with pytest.raises(NoMainText, match=r"fewer than --min_text_chars 200"):
        clean_document(_doc(html=html), min_chars=200)


def test_record_language_field_and_option_feed_the_row():
    assert clean_document(_doc(text=GERMAN, language="en"))["language"] == "en"
    assert clean_document(_doc(text="the council met"), language="de")["language"] == "de"
    assert clean_document(_doc(text=GERMAN, language="fr"), language="en")["language"] == "fr"


@pytest.fixture(scope="module")
def records_run(tmp_path_factory):
    """One pipeline run (default options) over short JSONL text records."""
    folder = tmp_path_factory.mktemp("language")
    records = [{"text": t} for t in SHORT_ENGLISH] + [
        {"text": GERMAN},
        {"text": "The depot cost $12 million to build.", "language": "de"},
        {"text": "Tickets cost $21.99 at the door.", "url": "https://www.northfieldherald.ca/a"},
    ]
    src = folder / "records.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = folder / "out"
    summary = run_pipeline(out, src)
    return src, out, summary


def test_short_english_records_are_annotated_end_to_end(records_run):
    src, out, summary = records_run
    assert summary["errors"] == 0 and summary["articles"] == 7
    rows = {int(a["source"].rsplit(":", 1)[1]): a for a in read_table(out, "articles")}
    for line in range(1, len(SHORT_ENGLISH) + 1):
        assert rows[line]["nlp_status"] == "ok" and rows[line]["language"] == "en", rows[line]
    assert rows[5]["language"] == "de" and rows[5]["nlp_status"] == "skipped_language"
    assert rows[6]["language"] == "de" and rows[6]["nlp_status"] == "skipped_language"
    figures = {(f["article_id"], f["value"], f["unit"]) for f in read_table(out, "figures")}
    assert (rows[1]["article_id"], 94000.0, "USD") in figures
    assert (rows[4]["article_id"], 48.2e6, "USD") in figures
    assert rows[7]["hostname"] == "www.northfieldherald.ca"     # a bare "$" on a .ca host
    assert (rows[7]["article_id"], 21.99, "CAD") in figures


def test_language_option_declares_every_input(records_run, tmp_path):
    src, _, _ = records_run
    run_pipeline(tmp_path, src, args=("--language", "en"))
    rows = {int(a["source"].rsplit(":", 1)[1]): a for a in read_table(tmp_path, "articles")}
    assert rows[5]["language"] == "en" and rows[5]["nlp_status"] == "ok"
    assert rows[6]["language"] == "de"          # the record's own field still wins
