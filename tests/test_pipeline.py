"""End to end on the bundled samples: every input accounted for, tables as declared."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import schemas
from tests.conftest import SAMPLES, read_table, run_pipeline

HTML_PAGES = sorted((SAMPLES / "html").glob("*.html"))
BAD = sorted((SAMPLES / "bad").iterdir())
# What ./run_local.sh reads by default.
SAMPLE_INPUTS = (SAMPLES / "html", SAMPLES / "articles.jsonl", SAMPLES / "articles.warc.gz",
                 SAMPLES / "bad")


@pytest.fixture(scope="module")
def samples_run(tmp_path_factory):
    """One full run (with NLP) over everything in samples/."""
    out = tmp_path_factory.mktemp("samples")
    summary = run_pipeline(out, *SAMPLE_INPUTS)
    return out, summary


def test_every_input_is_an_article_a_duplicate_or_an_error(samples_run):
    out, s = samples_run
    n_pages = len(HTML_PAGES)
    # Each page is there three times: as HTML file, as a WARC record, as a JSONL line.
    assert s["inputs"] == 3 * n_pages + len(BAD)
    assert s["articles"] == n_pages and s["duplicates"] == 2 * n_pages
    assert s["errors"] == len(BAD) and s["all_accounted"] is True
    assert s["inputs"] == s["articles"] + s["duplicates"] + s["errors"]
    sources = {r["source"] for r in read_table(out, "articles")}
    sources |= {r["source"] for r in read_table(out, "duplicates")}
    sources |= {r["source"] for r in read_table(out, "errors")}
    assert len(sources) == s["inputs"]


def test_bad_inputs_become_clear_error_rows(samples_run):
    out, _ = samples_run
    errors = {Path(r["source"]).name: r for r in read_table(out, "errors")}
    assert set(errors) == {p.name for p in BAD}
    for row in errors.values():
        assert row["stage"] in ("read", "clean") and row["error"] and row["message"]
    assert errors["empty.html"]["message"] == "empty document"


def test_kept_copy_is_the_first_source_and_duplicates_point_at_it(samples_run):
    out, _ = samples_run
    articles = {r["article_id"]: r for r in read_table(out, "articles")}
    for dup in read_table(out, "duplicates"):
        kept = articles[dup["duplicate_of"]]
        assert kept["source"] == dup["duplicate_of_source"] < dup["source"]
        assert kept["content_hash"] == dup["content_hash"]


def test_metadata_and_main_text_match_the_expectations(tmp_path):
    run_pipeline(tmp_path, SAMPLES / "html")
    expected = json.loads((SAMPLES / "expected.json").read_text())
    articles = {Path(r["source"]).name: r for r in read_table(tmp_path, "articles")}
    assert set(expected) == set(articles)
    for name, exp in expected.items():
        row = articles[name]
        assert row["title"] == exp["title"], name
        assert row["author"] == exp["author"], name
        assert str(row["published"]) == exp["published"], name
        assert row["language"] == "en" and row["nlp_status"] == "ok"
        assert row["word_count"] == len(row["text"].split())
        for sentence in exp["must_contain"]:
            assert sentence in row["text"], (name, sentence)
        for boilerplate in exp["must_not_contain"]:
            assert boilerplate not in row["text"], (name, boilerplate)


def test_every_table_has_its_declared_schema_and_reads_cleanly(samples_run):
    import duckdb
    import pandas as pd

    out, s = samples_run
    for table, schema in schemas.TABLES.items():
        files = sorted((out / table).rglob("*.parquet"))
        assert files, table
        for f in files:
            written = pq.read_schema(f)
            assert written.names == schema.names, table
            assert written.types == schema.types, table
            assert written.metadata[b"schema_version"] == schemas.SCHEMA_VERSION.encode()
        count = duckdb.sql(f"select count(*) from read_parquet('{out}/{table}/**/*.parquet')").fetchall()[0][0]
        assert count == s["rows"][table]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert len(pd.concat(pd.read_parquet(f) for f in files)) == count


def test_nlp_offsets_index_the_article_text(samples_run):
    out, s = samples_run
    assert s["rows"]["entities"] > 0 and s["rows"]["figures"] > 0 and s["rows"]["quotes"] > 0
    texts = {r["article_id"]: r["text"] for r in read_table(out, "articles")}
    for row in read_table(out, "figures"):
        assert texts[row["article_id"]][row["start"]:row["end"]] == row["text"]
    for row in read_table(out, "quotes"):
        assert texts[row["article_id"]][row["start"]:row["end"]] == row["quote"]
    for row in read_table(out, "mentions"):
        assert texts[row["article_id"]][row["start"]:row["end"]] == row["text"]


def test_summary_file_is_written(samples_run):
    out, s = samples_run
    assert json.loads((out / "_run.json").read_text()) == s
    assert s["seconds"] > 0 and s["metrics"]["read/files"] >= len(HTML_PAGES) + 2


def test_summary_has_each_extractors_time_per_article(samples_run):
    """Measured in the NLP child process and carried back with its results."""
    from pipeline.summary import format_summary
    from transforms.nlp import registry

    _, s = samples_run
    annotated = s["nlp_status"].get("ok", 0) + s["nlp_status"].get("truncated", 0)
    assert annotated > 0 and set(s["extractor_ms"]) == set(registry.DEFAULT)
    for name, timing in s["extractor_ms"].items():
        assert timing["articles"] == annotated, name
        assert 0 < timing["mean"] <= timing["max"] and 0 < timing["total_s"] < s["seconds"]
        assert s["metrics"][f"annotate/extractor_us/{name}.count"] == annotated
    assert "extractors ms/article entities " in format_summary(s)


@pytest.mark.parametrize("fmt", ["articles.jsonl", "articles.warc.gz"])
def test_html_warc_and_jsonl_give_the_same_articles(tmp_path, fmt):
    html = run_pipeline(tmp_path / "html", SAMPLES / "html", args=("--no_nlp",))
    other = run_pipeline(tmp_path / "other", SAMPLES / fmt, args=("--no_nlp",))
    assert html["articles"] == other["articles"] == len(HTML_PAGES)
    a = {(r["article_id"], r["text"], r["title"]) for r in read_table(tmp_path / "html", "articles")}
    b = {(r["article_id"], r["text"], r["title"]) for r in read_table(tmp_path / "other", "articles")}
    assert a == b


def test_rerun_replaces_the_previous_output(tmp_path):
    first = run_pipeline(tmp_path, SAMPLES / "html", args=("--no_nlp",))
    second = run_pipeline(tmp_path, SAMPLES / "html", args=("--no_nlp",))
    assert first["rows"] == second["rows"]
    assert len(read_table(tmp_path, "articles")) == len(HTML_PAGES)
    assert not (tmp_path / "_staging").exists()


def test_progress_line_is_printed(tmp_path, capfd):
    run_pipeline(tmp_path, SAMPLES / "html", args=("--no_nlp", "--progress_seconds", "0.000001"))
    assert re.search(r"\[progress\] cleaned \d+ articles", capfd.readouterr().err)


def test_missing_input_is_refused_before_running(tmp_path, capsys):
    from pipeline.run import main

    assert main(["--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o")]) == 2
    assert "no such file, directory or match" in capsys.readouterr().err


def test_committed_jsonl_and_warc_are_in_sync_with_the_html(tmp_path):
    import shutil

    from scripts.make_samples import build

    shutil.copytree(SAMPLES / "html", tmp_path / "html")
    (tmp_path / "bad").mkdir()
    build(tmp_path)
    for name in ("articles.jsonl", "articles.warc.gz", "bad/garbage.html"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_children_from_scratch_give_the_same_tables(samples_run, tmp_path):
    """--no_zygote starts every child from a new interpreter; the rows are the same
    as with children forked from the preloaded zygote (the default)."""
    out, summary = samples_run
    alone = run_pipeline(tmp_path, *SAMPLE_INPUTS, args=("--no_zygote",))
    assert alone["rows"] == summary["rows"]
    for table, key in (("articles", "article_id"), ("entities", "name"),
                       ("figures", "start"), ("quotes", "start")):
        rows = lambda o: sorted((r["article_id"], str(r[key]), r.get("nlp_status"))  # noqa: E731
                                for r in read_table(o, table))
        assert rows(tmp_path) == rows(out), table
