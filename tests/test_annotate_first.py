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
from transforms.annotate import (ANNOTATIONS, COPY, TIMINGS, adopt_annotations, pack_annotations,
                                 unpack_annotations)

STORY = ("Mayor Ellen Marsh said on Tuesday that the city would spend $5 million on new "
         "parks in the north of Riverton. “It is a fair price for clean air,” she said. "
         "Council member Tom Okafor said 12 of the 15 members backed the plan.")
OTHER = ("The Riverton Rowing Club opened its season on Saturday with 40 boats on the "
         "water. “We have never had so many,” said coach Priya Nair, who joined in 2019.")


def _article(article_id: str, source: str, **extra) -> dict:
    return {"article_id": article_id, "source": source, "content_hash": "h1",
            "hostname": "example.org", "sitename": "Example", **extra}


def test_a_kept_copy_not_parsed_takes_the_parsed_copys_rows_under_its_own_id():
    parsed = _article("a1", "b.html", nlp_status="ok", **{ANNOTATIONS: pack_annotations({
        "quotes": [{"article_id": "a1", "start": 3}], TIMINGS: {"quotes": 7},
        ERRORS: [{"article_id": "a1", "source": "b.html", "error": "NlpTruncated"}]})})
    copy = _article("a2", "a.html", nlp_status=None, **{ANNOTATIONS: {COPY: True}})
    kept = adopt_annotations(copy, [parsed, copy])
    assert kept["article_id"] == "a2" and kept["nlp_status"] == "ok"
    rows = unpack_annotations(kept[ANNOTATIONS])  # packed again: it travels on
    assert rows["quotes"] == [{"article_id": "a2", "start": 3}]
    assert rows[ERRORS] == [{"article_id": "a2", "source": "a.html", "error": "NlpTruncated"}]
    assert adopt_annotations(parsed, [parsed, copy]) is parsed  # its own rows


def test_a_kept_copy_takes_the_rows_of_a_parsed_copy_whose_rows_were_spilled(tmp_path):
    """After the spill, the parsed copy's rows are a reference into its bundle's file."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from transforms.spill import Spill, Spilled

    rows = {"quotes": [{"article_id": "a1", "start": n} for n in range(100)], TIMINGS: {}}
    parsed = _article("a1", "b.html", nlp_status="ok", **{ANNOTATIONS: pack_annotations(rows)})
    out = tmp_path / "spilled.pkl"

    def keep(record):
        out.write_bytes(__import__("pickle").dumps(record))
    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = (p | beam.Create([parsed]) | Spill(str(tmp_path / "spill"), (ANNOTATIONS,))
             | beam.Map(keep))
    spilled = __import__("pickle").loads(out.read_bytes())
    assert isinstance(spilled[ANNOTATIONS], Spilled)
    copy = _article("a2", "a.html", nlp_status=None, **{ANNOTATIONS: {COPY: True}})
    kept = adopt_annotations(copy, [spilled, copy])
    assert kept["nlp_status"] == "ok"
    assert unpack_annotations(kept[ANNOTATIONS])["quotes"] == [
        {"article_id": "a2", "start": n} for n in range(100)]


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
    ([], lambda cores, fit: min(cores, fit)),
    (["--direct_num_workers=2"], lambda cores, fit: max(1, min(max(cores // 2, min(2, cores)),
                                                               fit // 2))),
    (["--nlp_processes=3", "--direct_num_workers=2"], lambda cores, fit: 3),
    (["--runner=DataflowRunner"], lambda cores, fit: 1),
])
def test_nlp_children_share_the_cores_among_local_workers(argv, expected):
    """The cores shared among workers, at least two each where there are two cores, as
    far as memory holds them."""
    import os

    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    cores, fit = len(os.sched_getaffinity(0)), memory_mb // NLP_CHILD_MB
    assert nlp_processes(NewsOptions(argv)) == expected(cores, fit)
    if cores >= 2 and fit >= 4 and argv == ["--direct_num_workers=2"]:
        assert nlp_processes(NewsOptions(argv)) >= 2


def test_a_negative_nlp_processes_is_refused(tmp_path, capsys):
    from pipeline.run import main

    assert main(["--input", str(SAMPLES / "html"), "--output", str(tmp_path / "o"),
                 "--nlp_processes", "-1"]) != 0
    assert "--nlp_processes must not be negative" in capsys.readouterr().err
    assert not Path(tmp_path / "o").exists()


def test_batches_still_waiting_at_the_end_of_a_bundle_are_cut_small(tmp_path):
    """``AnnotateBatchFn.finish_bundle``: a batch no child has started is cut into
    batches of ``TAIL_BATCH``, so children finish together; every article still leaves
    once, annotated (a real spaCy child)."""
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.timestamp import MIN_TIMESTAMP
    from apache_beam.utils.windowed_value import WindowedValue

    from transforms.annotate import TAIL_BATCH, AnnotateBatchFn, AnnotateConfig, ModelHandle
    from transforms.nlp.model import default_model

    config = AnnotateConfig(default_model(), ("entities", "quotes"), 16, 300_000, 100_000,
                            nlp_timeout=60, max_nlp_chars=300_000, processes=1)
    fn = AnnotateBatchFn(ModelHandle(config), attach=True)
    fn.setup()
    try:
        child = fn._children.result()[0]
        fn.start_bundle()
        assert fn._free.get() is child  # no batch can start until the child is put back
        batches = [[{**_article(f"{b}-{i}", f"{b}-{i}.html", text=STORY if i % 2 else OTHER,
                     language="en"), "content_hash": f"{b}-{i}"} for i in range(2 * TAIL_BATCH)]
                   for b in ("a", "b")]
        out = [o for batch in batches
               for o in fn.process(batch, window=GlobalWindow(), timestamp=MIN_TIMESTAMP)]
        fn._split_waiting()
        sizes = [len(entry[1]) for entry in fn._pending]
        assert sizes == [2 * TAIL_BATCH, TAIL_BATCH, TAIL_BATCH]  # the first had started
        fn._free.put(child)
        out += list(fn.finish_bundle())
    finally:
        fn.teardown()
    articles = [o.value for o in out if isinstance(o, WindowedValue)]
    assert sorted(a["article_id"] for a in articles) == sorted(
        a["article_id"] for batch in batches for a in batch)
    rows = [unpack_annotations(a[ANNOTATIONS]) for a in articles]  # packed as they travel
    assert all(isinstance(a[ANNOTATIONS], bytes) for a in articles)
    assert all(a["nlp_status"] == "ok" and r["quotes"] is not None for a, r in zip(articles, rows))
    assert any(r["quotes"] for r in rows)
