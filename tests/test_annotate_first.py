"""The batch shape annotates before deduplication: copies parsed once per bundle, the
kept copy's rows written, as many NLP children as cores."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.build import nlp_processes
from pipeline.flags import NLP_CHILD_MB
from pipeline.options import NewsOptions
from schemas.layout import ERRORS
from tests.conftest import SAMPLES, read_table, run_pipeline
from transforms.annotate import ANNOTATIONS, COPY, TIMINGS, adopt_annotations

STORY = ("Mayor Ellen Marsh said on Tuesday that the city would spend $5 million on new "
         "parks in the north of Riverton. “It is a fair price for clean air,” she said. "
         "Council member Tom Okafor said 12 of the 15 members backed the plan.")
OTHER = ("The Riverton Rowing Club opened its season on Saturday with 40 boats on the "
         "water. “We have never had so many,” said coach Priya Nair, who joined in 2019.")


def _article(article_id: str, source: str, **extra) -> dict:
    return {"article_id": article_id, "source": source, "content_hash": "h1",
            "hostname": "example.org", "sitename": "Example", **extra}


def test_a_kept_copy_not_parsed_takes_the_parsed_copys_rows_under_its_own_id():
    parsed = _article("a1", "b.html", nlp_status="ok", **{ANNOTATIONS: {
        "quotes": [{"article_id": "a1", "start": 3}], TIMINGS: {"quotes": 7},
        ERRORS: [{"article_id": "a1", "source": "b.html", "error": "NlpTruncated"}]}})
    copy = _article("a2", "a.html", nlp_status=None, **{ANNOTATIONS: {COPY: True}})
    kept = adopt_annotations(copy, [parsed, copy])
    assert kept["article_id"] == "a2" and kept["nlp_status"] == "ok"
    assert kept[ANNOTATIONS]["quotes"] == [{"article_id": "a2", "start": 3}]
    assert kept[ANNOTATIONS][ERRORS] == [{"article_id": "a2", "source": "a.html",
                                          "error": "NlpTruncated"}]
    assert adopt_annotations(parsed, [parsed, copy]) is parsed  # its own rows


def test_a_copy_is_never_given_the_rows_of_another_source():
    """"$" may mean another dollar on another host: only a copy from the same source
    donates; with none, the article stays, with an error status and an errors row."""
    parsed = _article("a1", "b.html", hostname="example.ca", nlp_status="ok",
                      **{ANNOTATIONS: {"figures": [{"article_id": "a1"}]}})
    copy = _article("a2", "a.html", nlp_status=None, **{ANNOTATIONS: {COPY: True}})
    kept = adopt_annotations(copy, [parsed, copy])
    assert kept["nlp_status"] == "error" and "figures" not in kept[ANNOTATIONS]
    assert kept[ANNOTATIONS][ERRORS][0]["error"] == "NlpCopyMissing"


def test_duplicates_are_parsed_once_and_the_kept_copy_has_the_rows(tmp_path):
    """Lines 9 and 10 hold the same article: line 9 is read (and parsed) first, but
    "x.jsonl:10" sorts first, so the kept copy is the one that was not parsed."""
    lines = [{"text": f"{OTHER} Race number {n} went to the juniors.", "url": "https://example.org/r"}
             for n in range(1, 9)]
    lines += [{"text": STORY, "url": "https://example.org/parks"}] * 2
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    summary = run_pipeline(out, path)
    assert summary["articles"] == 9 and summary["duplicates"] == 1
    run = json.loads(next((out / "_runs").glob("*.json")).read_text())
    assert run["metrics"]["annotate/articles_parsed"] == 9
    assert run["metrics"]["annotate/copies_not_parsed"] == 1
    kept = [a for a in read_table(out, "articles") if a["text"] == STORY]
    assert [a["source"] for a in kept] == [f"{path}:10"] and kept[0]["nlp_status"] == "ok"
    [dup] = read_table(out, "duplicates")
    assert dup["source"] == f"{path}:9" and dup["duplicate_of"] == kept[0]["article_id"]

    alone = tmp_path / "alone.jsonl"
    alone.write_text(json.dumps(lines[-1]) + "\n")
    run_pipeline(tmp_path / "alone", alone)
    for table in ("entities", "mentions", "figures", "quotes"):
        rows = lambda o, ids: sorted(  # noqa: E731
            json.dumps({k: v for k, v in r.items() if k not in ("article_id", "ingested_at",
                                                                 "ingest_date")}, default=str)
            for r in read_table(o, table) if r["article_id"] in ids)
        want = rows(tmp_path / "alone", {a["article_id"] for a in read_table(tmp_path / "alone", "articles")})
        assert want, table
        assert rows(out, {kept[0]["article_id"]}) == want, table


def test_two_nlp_children_give_the_same_tables_as_one(tmp_path):
    inputs = (SAMPLES / "html", SAMPLES / "articles.jsonl")
    one = run_pipeline(tmp_path / "one", *inputs, args=("--nlp_processes", "1"))
    two = run_pipeline(tmp_path / "two", *inputs, args=("--nlp_processes", "2"))
    assert one["rows"] == two["rows"]
    for table in ("articles", "entities", "mentions", "figures", "quotes"):
        rows = lambda o: sorted(json.dumps({k: v for k, v in r.items() if k not in (  # noqa: E731
            "ingested_at", "ingest_date")}, default=str) for r in read_table(o, table))
        assert rows(tmp_path / "one") == rows(tmp_path / "two"), table


@pytest.mark.parametrize("argv, expected", [
    ([], lambda cores: cores),
    (["--direct_num_workers=2"], lambda cores: max(1, cores // 2)),
    (["--nlp_processes=3", "--direct_num_workers=2"], lambda cores: 3),
    (["--runner=DataflowRunner"], lambda cores: 1),
])
def test_nlp_children_share_the_cores_among_local_workers(argv, expected):
    """As many children as cores, as far as memory holds them, shared among workers."""
    import os

    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    cores = min(len(os.sched_getaffinity(0)), memory_mb // NLP_CHILD_MB)
    assert nlp_processes(NewsOptions(argv)) == expected(cores)


def test_a_negative_nlp_processes_is_refused(tmp_path, capsys):
    from pipeline.run import main

    assert main(["--input", str(SAMPLES / "html"), "--output", str(tmp_path / "o"),
                 "--nlp_processes", "-1"]) != 0
    assert "--nlp_processes must not be negative" in capsys.readouterr().err
    assert not Path(tmp_path / "o").exists()
