"""Readers: formats by name, WARC response records, JSONL lines, error rows."""
from __future__ import annotations

import gzip
import io
import json

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from transforms.formats.document import Document
from transforms.read import (TooLarge, expand_input, input_format, iter_html_file,
                             iter_jsonl, iter_warc)

PAGE = "<html><body><article><p>Hello Northfield.</p></article></body></html>"


def make_warc(records: list[tuple[str, str, bytes, str]]) -> bytes:
    """A gzipped WARC from ``(type, uri, payload, content_type)`` tuples."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for rec_type, uri, payload, content_type in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", content_type)],
                                protocol="HTTP/1.1") if rec_type == "response" else None
        writer.write_record(writer.create_warc_record(
            uri, rec_type, payload=io.BytesIO(payload), http_headers=http))
    return buf.getvalue()


def test_formats_by_name():
    assert input_format("a/b.HTML") == "html" and input_format("x.htm.gz") == "html"
    assert input_format("crawl.warc.gz") == "warc" and input_format("d.jsonl") == "jsonl"
    assert input_format("notes.txt") is None


def test_directory_becomes_recursive_glob(tmp_path):
    assert expand_input(str(tmp_path)) == f"{tmp_path}/**"
    assert expand_input("gs://bucket/crawl/") == "gs://bucket/crawl/**"
    assert expand_input("pages/*.html") == "pages/*.html"


def test_html_file_gzipped_and_size_cap():
    raw = gzip.compress(PAGE.encode())
    [doc] = iter_html_file("p.html.gz", io.BytesIO(raw), limit=10_000)
    assert doc.raw == PAGE.encode() and doc.source == "p.html.gz"
    with pytest.raises(TooLarge):
        list(iter_html_file("p.html", io.BytesIO(PAGE.encode()), limit=10))


def test_warc_keeps_html_responses_only():
    warc = make_warc([
        ("request", "https://n.example/a", b"GET /a HTTP/1.1\r\n\r\n", ""),
        ("response", "https://n.example/a", "Привет".encode("cp1251"), "text/html; charset=windows-1251"),
        ("response", "https://n.example/logo.png", b"\x89PNG", "image/png"),
        ("response", "https://n.example/b", PAGE.encode(), "text/html"),
    ])
    docs = list(iter_warc("c.warc.gz", io.BytesIO(warc), limit=10_000))
    assert [d.url for d in docs] == ["https://n.example/a", "https://n.example/b"]
    first = docs[0]
    assert first.http_charset == "windows-1251" and first.fetched_at is not None
    assert first.source.startswith("c.warc.gz#<urn:uuid:")
    assert first.raw.decode("cp1251") == "Привет"



def test_warc_reader_counts_what_it_skips_without_beam():
    from transforms.formats.warc import WarcReader

    warc = make_warc([
        ("request", "https://n.example/a", b"GET /a HTTP/1.1\r\n\r\n", ""),
        ("response", "https://n.example/logo.png", b"\x89PNG", "image/png"),
        ("response", "https://n.example/b", PAGE.encode(), "text/html"),
    ])
    reader = WarcReader("c.warc.gz", io.BytesIO(warc), limit=10_000)
    assert [d.url for d in reader] == ["https://n.example/b"]
    assert reader.skipped == {"warc_request_records_skipped": 1,
                              "warc_non_html_responses_skipped": 1}


def test_truncated_warc_keeps_earlier_records_and_reports_the_rest():
    warc = make_warc([("response", f"https://n.example/{i}", PAGE.encode() * 50, "text/html")
                      for i in range(3)])
    items = list(iter_warc("t.warc.gz", io.BytesIO(warc[: len(warc) - 200]), limit=10**6))
    docs = [i for i in items if isinstance(i, Document)]
    errors = [i["error"] for i in items if not isinstance(i, Document)]
    assert len(docs) == 2 and len(errors) == 1
    assert errors[0]["stage"] == "read" and errors[0]["error"] == "TruncatedWarc"
    assert "2 response records before it" in errors[0]["message"]


def test_jsonl_bad_lines_cost_only_themselves():
    lines = [json.dumps({"url": "https://n.example/a", "html": PAGE}), "{not json",
             "[1, 2]", json.dumps({"url": "x"}), "", json.dumps({"text": "Plain text.", "title": "T"})]
    items = list(iter_jsonl("d.jsonl", io.BytesIO("\n".join(lines).encode()), limit=10_000))
    docs = [i for i in items if isinstance(i, Document)]
    errors = {i["error"]["source"]: i["error"]["message"] for i in items
              if not isinstance(i, Document)}
    assert [d.source for d in docs] == ["d.jsonl:1", "d.jsonl:6"]
    assert docs[0].html == PAGE and docs[1].text == "Plain text." and docs[1].title == "T"
    assert set(errors) == {"d.jsonl:2", "d.jsonl:3", "d.jsonl:4"}
    assert "invalid JSON" in errors["d.jsonl:2"] and "not an object" in errors["d.jsonl:3"]
    assert "neither" in errors["d.jsonl:4"]


def test_a_document_holds_one_body_and_crosses_beams_coder_unchanged():
    import datetime as dt

    from apache_beam import coders

    doc = Document("c.warc#1", "warc", raw=b"<p>x</p>", url="https://n.example/a",
                   http_charset="utf-8", fetched_at=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    coder = coders.registry.get_coder(Document)  # what Beam infers for the type
    assert coder.decode(coder.encode(doc)) == doc
    for bodies in ({}, {"raw": b"x", "text": "x"}, {"html": "<p>", "text": "x"}):
        with pytest.raises(ValueError, match="exactly one of raw, html and text"):
            Document("d.jsonl:1", "jsonl", **bodies)
