"""Hostile input never crashes a run or loses a document (issue 4).

The corpus is generated into a temporary folder (``tests/hostile_corpus.py``).
Budgets in these runs are small so that the suite stays short; each hostile
case is far beyond its budget (a page trafilatura needs hours for against 5 s,
a 1,000,000-character parse against 2 s) and each ordinary one far below it.
"""
from __future__ import annotations

import contextlib

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from tests import hostile_corpus as hc
from tests.conftest import REPO, read_table, run_pipeline, shared_path
from transforms.formats.document import Document
from transforms.read import ReadFileFn, iter_warc

BUDGETS = ("--extract_timeout", "5", "--nlp_timeout", "30", "--max_nlp_chars", "20000",
           "--nlp_batch_size", "4")


def _outcomes(out: Path) -> dict[str, list[tuple[str, dict]]]:
    """Every source in the articles, duplicates and (document-level) errors tables."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for table in ("articles", "duplicates", "errors"):
        for row in read_table(out, table):
            if table == "errors" and row["article_id"] is not None:
                continue  # an annotation error of a kept article
            found.setdefault(row["source"], []).append((table, row))
    return found


def _file_of(source: str) -> str:
    """The file name of a source (``path``, ``path#record``, ``path@offset``, ``path:line``)."""
    return Path(re.split(r"[#@]|:(?=\d+$)", source)[0]).name


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    expected = hc.build(root / "in")
    summary = run_pipeline(root / "out", root / "in", args=BUDGETS)
    return root / "out", expected, summary


def test_run_completes_and_every_document_is_accounted_for(hostile):
    out, expected, s = hostile
    assert s["all_accounted"] is True
    assert s["inputs"] == len(expected) == s["articles"] + s["duplicates"] + s["errors"]
    found = _outcomes(out)
    assert set(found) == set(expected)
    assert all(len(rows) == 1 for rows in found.values()), {k: v for k, v in found.items() if len(v) > 1}
    assert not (out / "_staging").exists()


def test_each_hostile_document_ends_as_expected(hostile):
    out, expected, _ = hostile
    found = _outcomes(out)
    for source, want in expected.items():
        (table, row), = found[source]
        if want.kind == "article":
            assert table == "articles", (want.note, row)
            if want.nlp_status:
                assert row["nlp_status"] == want.nlp_status, (want.note, row["nlp_status"])
        elif want.kind == "duplicate":
            assert table == "duplicates" and row["duplicate_of_source"].endswith("same-a.html")
        else:
            assert table == "errors", (want.note, table)
            assert (row["stage"], row["error"]) == (want.stage, want.code), (want.note, row)
            assert len(row["message"]) > 10, row


def test_error_messages_say_what_happened(hostile):
    out, _, _ = hostile
    errors = {Path(r["source"]).name: r for r in read_table(out, "errors")}
    assert "209,715,200 bytes" in errors["huge.html"]["message"]
    assert "--max_document_bytes" in errors["huge.html"]["message"]
    assert "--max_document_bytes" in errors["bomb.html.gz"]["message"]
    assert "--extract_timeout" in errors["slow.html"]["message"]
    assert "truncated or corrupt gzip" in errors["truncated.html.gz"]["message"]
    assert errors["empty.html"]["message"] == "empty document"
    assert "binary" in errors["garbage.html"]["message"]
    assert "neither an 'html' nor a 'text'" in errors["lines.jsonl:6"]["message"]
    assert "RecursionError" in errors["lines.jsonl:8"]["message"]
    long = errors["long.jsonl:1"]
    assert long["stage"] == "annotate" and long["error"] == "NlpTruncated"
    assert long["article_id"] and "--max_nlp_chars" in long["message"]


def test_one_bad_record_costs_that_record(hostile):
    out, expected, _ = hostile
    articles = {r["source"] for r in read_table(out, "articles")}
    for name in ("crawl.warc.gz", "plain.warc", "cut.warc.gz", "lines.jsonl"):
        good = [s for s, o in expected.items() if _file_of(s) == name and o.kind == "article"]
        assert len(good) >= 2 and set(good) <= articles, name
    # The records after the corrupt one were read.
    crawl = sorted(s for s in articles if "crawl.warc.gz#" in s)
    assert [s[-5:-1] for s in crawl] == ["0000", "0001", "0003", "0004"]


def test_long_article_keeps_its_text_and_nlp_is_bounded(hostile):
    out, _, s = hostile
    [long] = [a for a in read_table(out, "articles") if a["source"].endswith("long.jsonl:1")]
    assert len(long["text"]) == 2_000_000 and long["nlp_status"] == "truncated"
    for table in ("figures", "mentions"):
        rows = [r for r in read_table(out, table) if r["article_id"] == long["article_id"]]
        assert rows and max(r["end"] for r in rows) <= 20_000
    assert s["nlp_status"]["truncated"] == 1


def test_offsets_index_the_text_of_every_hostile_article(hostile):
    out, _, _ = hostile
    texts = {r["article_id"]: r["text"] for r in read_table(out, "articles")}
    for table, field in (("figures", "text"), ("quotes", "quote"), ("mentions", "text")):
        rows = read_table(out, table)
        assert rows, table
        for row in rows:
            assert texts[row["article_id"]][row["start"]:row["end"]] == row[field], (table, row)


def test_unbalanced_quotes_and_absurd_numbers_are_annotated_or_cost_only_annotations(hostile):
    out, _, _ = hostile
    [article] = [a for a in read_table(out, "articles") if a["source"].endswith("quotes.html")]
    assert article["language"] == "en"
    if article["nlp_status"] == "error":  # over the NLP budget: kept, with an errors row
        [row] = [r for r in read_table(out, "errors") if r["article_id"] == article["article_id"]]
        assert row["stage"] == "annotate" and row["message"]
    else:
        assert article["nlp_status"] == "ok"
        figures = [r for r in read_table(out, "figures") if r["article_id"] == article["article_id"]]
        assert figures


def test_non_english_articles_keep_text_and_language_and_skip_the_english_model(hostile):
    out, _, s = hostile
    articles = {Path(a["source"]).name: a for a in read_table(out, "articles")}
    for name, lang, phrase in (("german-cp1252.html", "de", "Bürgermeisterin Greta Müller"),
                               ("russian-cp1251.html", "ru", "Елена Маршева"),
                               ("chinese-utf8.html", "zh", "北野市议会")):
        a = articles[name]
        assert a["language"] == lang and phrase in a["text"] and "\ufffd" not in a["text"], name
        assert a["nlp_status"] == "skipped_language"
    skipped = {a["article_id"] for a in articles.values() if a["nlp_status"] == "skipped_language"}
    for table in ("entities", "mentions", "figures", "quotes"):
        assert not skipped & {r["article_id"] for r in read_table(out, table)}, table
    assert s["not_annotated_language"] == len(skipped) == 3
    assert s["languages"]["de"] == s["languages"]["ru"] == s["languages"]["zh"] == 1


def test_summary_counts_budgets_and_memory(hostile):
    _, _, s = hostile
    assert s["over_budget"]["extract"] == 1
    assert s["errors_by_code"]["clean/TimeBudgetExceeded"] == 1
    peak = s["peak_rss_mb"]
    assert peak["extract_worker"] and peak["nlp_worker"] and peak["launcher"]
    print(f"\nhostile run: {s['inputs']} inputs, {s['seconds']} s, peak RSS MB {peak}, "
          f"errors {s['errors_by_code']}")


def test_non_english_corpus_is_kept_but_not_run_through_the_english_model(tmp_path):
    pages = shared_path("corpus", "non_english")
    s = run_pipeline(tmp_path, pages / "*.html", args=BUDGETS)
    assert s["all_accounted"] is True
    articles = read_table(tmp_path, "articles")
    foreign = [a for a in articles if a["language"] != "en"]
    assert len(foreign) >= len(list(pages.glob("*.html"))) // 2
    assert all(a["nlp_status"] == "skipped_language" and a["text"] for a in foreign)
    assert s["not_annotated_language"] == len(foreign)
    annotated = {r["article_id"] for t in ("mentions", "figures", "quotes") for r in read_table(tmp_path, t)}
    assert not annotated & {a["article_id"] for a in foreign}


def test_hanging_nlp_costs_one_article_and_the_worker_moves_on(tmp_path):
    """1,000,000 characters cannot be parsed in 2 s; 600 can."""
    small = " ".join(hc.english_paragraphs(1, 1))
    big = "\n".join(hc.english_paragraphs(2, 1)) + "\n"
    big = (big * (1_000_000 // len(big) + 1))[:1_000_000]
    path = tmp_path / "in.jsonl"
    other = " ".join(hc.english_paragraphs(3, 1))
    path.write_text("\n".join(json.dumps({"text": t}) for t in (big, small, other)))
    s = run_pipeline(tmp_path / "out", path, args=(
        "--nlp_timeout", "2", "--max_nlp_chars", "2000000", "--nlp_batch_size", "1"))
    assert s["all_accounted"] is True and s["articles"] == 3
    status = {a["source"].rsplit(":", 1)[1]: a["nlp_status"] for a in read_table(tmp_path / "out", "articles")}
    assert status == {"1": "error", "2": "ok", "3": "ok"}
    [row] = [r for r in read_table(tmp_path / "out", "errors")]
    assert row["stage"] == "annotate" and row["error"] == "TimeBudgetExceeded" and row["article_id"]
    assert "--nlp_timeout" in row["message"]
    assert s["over_budget"]["nlp"] == 1


# --------------------------------------------------------------- reading stays bounded

def _readable(path: Path) -> fileio.ReadableFile:
    return fileio.ReadableFile(FileSystems.match([str(path)])[0].metadata_list[0])


def _peak_bytes(fn) -> tuple[list, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_file_is_refused_by_size_without_being_read(tmp_path):
    huge = tmp_path / "huge.html"
    with huge.open("wb") as f:
        f.truncate(hc.HUGE_BYTES)
    items, peak = _peak_bytes(lambda: list(ReadFileFn(1_000_000).process(_readable(huge))))
    [error] = [i.value for i in items]
    assert error["error"] == "TooLarge" and "not read" in error["message"]
    assert peak < 1_000_000  # not even the cap was read


def test_gzip_bomb_and_huge_jsonl_line_are_read_only_up_to_the_cap(tmp_path):
    cap = 2_000_000
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(bytes(hc.HUGE_BYTES // 4), compresslevel=1))
    lines = tmp_path / "big.jsonl"
    with lines.open("wb") as f:
        f.write(b'{"text": "' + b"x" * (20 * cap) + b'"}\n' + json.dumps({"text": "after"}).encode() + b"\n")
    for path in (bomb, lines):
        items, peak = _peak_bytes(lambda: list(ReadFileFn(cap).process(_readable(path))))
        errors = [i.value for i in items if hasattr(i, "tag")]
        assert [e["error"] for e in errors] == ["TooLarge"], path.name
        assert peak < 3 * cap, (path.name, peak)
    assert [i for i in items if not hasattr(i, "tag")] == [
        Document(source=f"{lines}:2", input_format="jsonl", text="after")]


@pytest.mark.parametrize("extra", [400, 1500])
def test_plain_warc_record_running_into_the_next_one_is_flagged_and_the_next_one_read(tmp_path, extra):
    """400: the overrun ends inside the next record's headers (warcio fails);
    1500: inside its one-line HTML (warcio goes on silently after a warning)."""
    path = tmp_path / "p.warc"
    expected = hc.overlong_warc(path, extra=extra)
    items = list(iter_warc(str(path), path.open("rb"), 10**6))
    got = {i.source if isinstance(i, Document) else i["error"]["source"]: i for i in items}
    assert set(got) == set(expected) and len(items) == len(expected)
    [error] = [i["error"] for i in items if not isinstance(i, Document)]
    assert error["error"] == "CorruptWarcRecord" and "Content-Length" in error["message"]


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_warc_damage_without_seek_costs_the_rest_of_the_file(tmp_path):
    """What is achievable: without a seekable stream there is no resync."""
    path = tmp_path / "c.warc.gz"
    expected = hc.corrupt_warc(path)
    items = list(iter_warc(str(path), io.BufferedReader(_Unseekable(path.read_bytes())), 10**6))
    docs = [i.source for i in items if isinstance(i, Document)]
    [error] = [i["error"] for i in items if not isinstance(i, Document)]
    assert docs == sorted(s for s, o in expected.items() if o.kind == "article")[:2]
    assert error["error"] == "TruncatedWarc" and "2 response records before it" in error["message"]


# ------------------------------------------------------------- crash safety and memory

def _launch(inputs: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--input", str(inputs), "--output", str(out), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _published(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not {"_staging", "_lock"} & set(p.parts)}


@pytest.mark.slow
def test_killed_run_leaves_no_partial_output_and_the_rerun_is_complete(tmp_path):
    import psutil

    small, big, out = tmp_path / "small", tmp_path / "big", tmp_path / "out"
    n = 30
    hc.articles(small, n)
    hc.articles(big, 10 * n)
    args = ("--progress_seconds", "0.000001", "--nlp_batch_size", "8")
    first = _launch(small, out, *args)
    assert first.wait(timeout=600) == 0, first.stderr.read()
    s_small = json.loads((out / "_run.json").read_text())
    before = _published(out)

    # SIGKILL mid-annotation, deterministically: the run kills itself after its
    # 40th annotated article (pipeline/progress.py's test hook).
    run = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--input", str(big), "--output", str(out), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, NEWS_PIPELINE_KILL_AFTER="annotated:40"))
    workers: set[int] = set()
    for _ in run.stderr:  # its worker processes, while it lives
        with contextlib.suppress(psutil.Error):
            workers |= {c.pid for c in psutil.Process(run.pid).children(recursive=True)}
    run.wait()
    assert run.returncode == -signal.SIGKILL
    assert _published(out) == before  # published tables untouched, nothing half-written
    assert (out / "_staging").exists()  # what it had written: temporary files only
    assert workers and _wait_gone(list(workers)) == []  # its worker processes ended too

    rerun = _launch(big, out, *args)
    assert rerun.wait(timeout=900) == 0, rerun.stderr.read()
    s_big = json.loads((out / "_run.json").read_text())
    assert s_big["all_accounted"] is True
    assert s_big["articles"] == 10 * n and s_big["errors"] == 0 == s_big["duplicates"]
    sources = Counter(Path(a["source"]).name for a in read_table(out, "articles"))
    assert sorted(sources) == sorted(p.name for p in big.iterdir()) and set(sources.values()) == {1}
    assert not (out / "_staging").exists()
    assert {a["nlp_status"] for a in read_table(out, "articles")} == {"ok"}

    # Memory is flat in input size: N and 10N documents.
    small_peak, big_peak = s_small["peak_rss_mb"], s_big["peak_rss_mb"]
    print(f"\npeak RSS MB, {n} docs: {small_peak}; {10 * n} docs: {big_peak}")
    for worker in ("extract_worker", "nlp_worker"):
        assert big_peak[worker] <= 1.25 * small_peak[worker] + 50, worker
    assert big_peak["launcher"] <= 1.25 * small_peak["launcher"] + 100


def _wait_gone(pids: list[int], seconds: float = 30) -> list[int]:
    """The pids still alive after up to ``seconds`` (orphans end on EOF or alarm)."""
    import psutil

    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    return alive


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_worker_child_exits_when_its_parent_is_killed(tmp_path):
    """A killed launcher leaves no busy child behind (EOF on its pipe)."""
    script = ("from transforms.sandbox.worker import Worker\n"
              "w = Worker('transforms.formats.page:extract',"
              " 'transforms.formats.page:quiet_logging')\n"
              "w.start(); print(w.proc.pid, flush=True)\n"
              "import time; time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    assert _wait_gone([child]) == []
