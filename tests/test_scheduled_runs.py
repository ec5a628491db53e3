"""Scheduled runs: re-runs never duplicate rows; --incremental does only new work."""
from __future__ import annotations

import shutil

import duckdb

from tests.conftest import SAMPLES, read_table, run_pipeline

PAGES = sorted((SAMPLES / "html").glob("*.html"))


def _count(out, table: str) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{out}/{table}/**/*.parquet')").fetchall()[0][0]


def test_output_is_partitioned_by_ingest_date_and_read_with_one_glob(tmp_path):
    run_pipeline(tmp_path / "out", SAMPLES / "html", args=("--no_nlp",))
    dirs = {p.name for p in (tmp_path / "out" / "articles").iterdir()}
    assert len(dirs) == 1 and dirs.pop().startswith("ingest_date=")
    rows = duckdb.sql(f"select distinct ingest_date from read_parquet("
                      f"'{tmp_path}/out/articles/**/*.parquet')").fetchall()
    assert len(rows) == 1


def test_incremental_rerun_skips_everything_already_ingested(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    for page in PAGES[:8]:
        shutil.copy(page, inbox)
    first = run_pipeline(out, inbox, args=("--no_nlp", "--incremental"))
    assert first["articles"] == 8 and first["inputs"] == 8

    # Nothing new: every file is skipped unread, nothing is added.
    again = run_pipeline(out, inbox, args=("--no_nlp", "--incremental"))
    assert again["inputs"] == 0 and again["articles"] == 0
    assert again["skipped_records"]["already_ingested_files_skipped"] == 8
    assert _count(out, "articles") == 8

    # The directory grows: four new pages, and one old page under a new name.
    for page in PAGES[8:]:
        shutil.copy(page, inbox)
    shutil.copy(PAGES[0], inbox / "copy-of-first.html")
    grown = run_pipeline(out, inbox, args=("--no_nlp", "--incremental"))
    assert grown["inputs"] == len(PAGES) - 8 + 1
    assert grown["articles"] == len(PAGES) - 8 and grown["duplicates"] == 1
    assert _count(out, "articles") == len(PAGES)
    ids = [r["article_id"] for r in read_table(out, "articles")]
    assert len(ids) == len(set(ids))
    [dup] = read_table(out, "duplicates")
    assert dup["source"].endswith("copy-of-first.html") and dup["duplicate_of"] in ids


def test_full_rerun_after_incremental_runs_replaces_everything(tmp_path):
    out = tmp_path / "out"
    run_pipeline(out, SAMPLES / "html", args=("--no_nlp", "--incremental"))
    run_pipeline(out, SAMPLES / "articles.jsonl", args=("--no_nlp", "--incremental"))
    assert _count(out, "duplicates") == len(PAGES)
    run_pipeline(out, SAMPLES / "html", args=("--no_nlp",))
    assert _count(out, "articles") == len(PAGES) and _count(out, "duplicates") == 0
