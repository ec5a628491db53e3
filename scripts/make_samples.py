"""Build the bundled sample inputs from ``samples/html/*.html``.

Writes, deterministically and without network access (re-runs are byte-identical):

* ``samples/articles.jsonl``: one ``{"url", "html", "title", "published"}`` object per page,
  ``html`` being the page decoded with its declared charset;
* ``samples/articles.warc.gz``: WARC/1.1 with a ``warcinfo`` record, one ``response``
  record per page (synthetic HTTP header carrying the page's charset), and one ``request``
  and one ``metadata`` record for the first page (non-response records a reader must skip);
* ``samples/bad/garbage.html``: seeded pseudo-random bytes.

Usage: ``python scripts/make_samples.py [--samples DIR]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
WARC_DATE = "2026-03-21T12:00:00Z"
RECORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://www.northfield-ledger.example/samples/")
GARBAGE_SEED = 20260304
GARBAGE_SIZE = 384
_CHARSET_RE = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class SamplePage:
    """One sample page: its raw bytes, declared charset and the fields taken from its head."""

    name: str
    raw: bytes
    charset: str
    html: str
    url: str
    title: str
    published: str


def declared_charset(raw: bytes) -> str:
    """Charset named by ``<meta charset>`` or ``<meta http-equiv="Content-Type">``, lower-cased."""
    match = _CHARSET_RE.search(raw[:4096])
    if match is None:
        raise ValueError("no charset declared in the first 4096 bytes")
    return match.group(1).decode("ascii").lower()


def _meta(tree: lxml.html.HtmlElement, xpath: str, what: str, name: str) -> str:
    value = str(tree.xpath(f"string({xpath})")).strip()
    if not value:
        raise ValueError(f"{name}: no {what}")
    return value


def read_page(path: Path) -> SamplePage:
    """Decode one page with its declared charset and read canonical URL, og:title and date."""
    raw = path.read_bytes()
    charset = declared_charset(raw)
    html = raw.decode(charset)
    tree = lxml.html.fromstring(html)
    published = _meta(tree, '//meta[@property="article:published_time"]/@content',
                      "article:published_time", path.name)[:10]
    dt.date.fromisoformat(published)  # fails loudly on a malformed date
    return SamplePage(
        name=path.name, raw=raw, charset=charset, html=html,
        url=_meta(tree, '//link[@rel="canonical"]/@href', "canonical link", path.name),
        title=_meta(tree, '//meta[@property="og:title"]/@content', "og:title", path.name),
        published=published,
    )


def read_pages(html_dir: Path) -> list[SamplePage]:
    """All ``*.html`` pages of ``html_dir``, sorted by file name."""
    pages = [read_page(p) for p in sorted(html_dir.glob("*.html"))]
    if not pages:
        raise FileNotFoundError(f"no *.html in {html_dir}")
    return pages


def write_jsonl(pages: list[SamplePage], out: Path) -> None:
    """One JSON object per line, UTF-8, keys in a fixed order."""
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for page in pages:
            row = {"url": page.url, "html": page.html, "title": page.title, "published": page.published}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _record_id(key: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_NAMESPACE, key)}>"


def _fields(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8")


def write_warc(pages: list[SamplePage], out: Path) -> None:
    """Gzipped WARC/1.1 with fixed dates and uuid5 record ids (warcio's gzip header has mtime 0)."""
    with out.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        info = _fields([("software", "scripts/make_samples.py"), ("format", "WARC File Format 1.1"),
                        ("description", "synthetic sample news pages (invented content)")])
        writer.write_record(writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info), length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": _record_id("warcinfo"), "WARC-Date": WARC_DATE,
                               "WARC-Filename": out.name}))
        for index, page in enumerate(pages):
            response_id = _record_id(page.name)
            http = StatusAndHeaders("200 OK", [
                ("Content-Type", f"text/html; charset={page.charset}"),
                ("Content-Length", str(len(page.raw)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                page.url, "response", payload=io.BytesIO(page.raw), length=len(page.raw),
                http_headers=http,
                warc_headers_dict={"WARC-Record-ID": response_id, "WARC-Date": WARC_DATE}))
            if index == 0:
                _write_request_and_metadata(writer, page, response_id)


def _write_request_and_metadata(writer: WARCWriter, page: SamplePage, response_id: str) -> None:
    parts = urlsplit(page.url)
    request = StatusAndHeaders(f"GET {parts.path or '/'} HTTP/1.1", [
        ("Host", parts.netloc), ("User-Agent", "northfield-samples/1.0"),
        ("Accept", "text/html")], is_http_request=True)
    writer.write_record(writer.create_warc_record(
        page.url, "request", http_headers=request,
        warc_headers_dict={"WARC-Record-ID": _record_id(page.name + "#request"),
                           "WARC-Date": WARC_DATE, "WARC-Concurrent-To": response_id}))
    meta = _fields([("via", f"{parts.scheme}://{parts.netloc}/"), ("hopsFromSeed", "L"),
                    ("fetchTimeMs", "212")])
    writer.write_record(writer.create_warc_record(
        page.url, "metadata", payload=io.BytesIO(meta), length=len(meta),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Record-ID": _record_id(page.name + "#metadata"),
                           "WARC-Date": WARC_DATE, "WARC-Refers-To": response_id}))


def write_garbage(out: Path, size: int = GARBAGE_SIZE, seed: int = GARBAGE_SEED) -> None:
    """Seeded pseudo-random bytes: an input that must end as an error row."""
    out.write_bytes(random.Random(seed).randbytes(size))


def build(samples_dir: Path = SAMPLES_DIR) -> list[SamplePage]:
    """Write articles.jsonl, articles.warc.gz and bad/garbage.html under ``samples_dir``."""
    pages = read_pages(samples_dir / "html")
    write_jsonl(pages, samples_dir / "articles.jsonl")
    write_warc(pages, samples_dir / "articles.warc.gz")
    (samples_dir / "bad").mkdir(exist_ok=True)
    write_garbage(samples_dir / "bad" / "garbage.html")
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR, help="samples directory")
    args = parser.parse_args(argv)
    pages = build(args.samples)
    print(f"{len(pages)} pages -> articles.jsonl, articles.warc.gz; bad/garbage.html")


if __name__ == "__main__":
    main()
