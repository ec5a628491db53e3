"""The real corpora in ../shared: WARC files (incl. Common Crawl) and pages.

Skipped when ../shared is absent; CI sets REQUIRE_SHARED=1 so they must run.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

from tests.conftest import read_table, run_pipeline, shared_path


def html_responses(path: Path) -> set[str]:
    """WARC-Record-IDs of the HTML response records, counted independently."""
    from warcio.archiveiterator import ArchiveIterator

    ids = set()
    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type != "response":
                continue
            ctype = (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
            if not ctype or "html" in ctype or "xml" in ctype:
                ids.add(record.rec_headers.get_header("WARC-Record-ID"))
    return ids


def _share(text: str, scripts: tuple[str, ...]) -> float:
    letters = [c for c in text if c.isalpha()]
    hits = sum(1 for c in letters if unicodedata.name(c, "").startswith(scripts))
    return hits / max(len(letters), 1)


def test_every_warc_response_record_is_accounted_for(tmp_path):
    warc_dir = shared_path("corpus", "warc")
    summary = run_pipeline(tmp_path, warc_dir / "*.warc.gz", args=("--no_nlp",))
    assert summary["all_accounted"] is True
    seen: dict[str, set[str]] = {}
    for table in ("articles", "duplicates", "errors"):
        for row in read_table(tmp_path, table):
            path, _, record_id = row["source"].partition("#")
            seen.setdefault(Path(path).name, set()).add(record_id)
    for warc in sorted(warc_dir.glob("*.warc.gz")):
        assert seen.get(warc.name, set()) == html_responses(warc), warc.name


def test_gbk_and_cyrillic_pages_come_out_readable(tmp_path):
    warc = shared_path("corpus", "warc", "real_resiliparse_CC-MAIN-2020-34_sample.warc.gz")
    run_pipeline(tmp_path, warc, args=("--no_nlp",))
    articles = read_table(tmp_path, "articles")
    chinese = [a for a in articles if a["encoding"] == "gb18030"]
    cyrillic = [a for a in articles if a["encoding"] == "cp1251"]
    assert chinese and cyrillic
    for a in chinese:
        if a["language"] == "zh":
            assert _share(a["text"], ("CJK",)) > 0.5, a["source"]
    for a in cyrillic:
        assert _share(a["text"], ("CYRILLIC",)) > 0.5, a["source"]
    for a in chinese + cyrillic:
        assert a["text"].count("\ufffd") <= 2 and "Ã" not in a["text"], a["source"]
