"""A hostile corpus, generated into a folder by the tests (never committed).

``build(root)`` writes every kind of junk a crawl delivers and returns what the
pipeline must make of each input document: ``Outcome("article")``,
``Outcome("duplicate")`` or ``Outcome("error", stage, code)``, keyed by the
``source`` the pipeline gives it. ``articles(n)`` makes ``n`` distinct invented
articles for volume runs. All text here is invented.
"""
from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

MB = 1 << 20
HUGE_BYTES = 200 * MB


@dataclass(frozen=True)
class Outcome:
    kind: str                   # article | duplicate | error
    stage: str | None = None    # errors: read | clean
    code: str | None = None     # errors: the ``error`` column
    nlp_status: str | None = None  # articles: expected nlp_status (None: any)
    note: str = ""              # what the document is, for reports


FIRST = ("Omar", "Ellen", "Priya", "Tomas", "Greta", "Kwame", "Lena", "Ruth", "Anselm", "Mira")
LAST = ("Feld", "Marsh", "Okafor", "Brennick", "Salo", "Ivers", "Quade", "Lindqvist", "Tarrow", "Hale")
TOPICS = (("transit", "bus lines", "the Northfield Transit Authority"),
          ("schools", "a new school", "the Ridgeline School Board"),
          ("water", "the reservoir", "the Eastbrook Water District"),
          ("housing", "affordable flats", "the Harbor Housing Trust"),
          ("parks", "the river park", "the Parks Commission"))


def english_paragraphs(i: int, n: int = 4) -> list[str]:
    """``n`` paragraphs of an invented local-news article, distinct for each ``i``."""
    who = f"{FIRST[i % 10]} {chr(65 + i % 26)}. {LAST[(i // 10) % 10]}"
    topic, thing, body = TOPICS[i % len(TOPICS)]
    out = []
    for k in range(n):
        out.append(
            f"Council member {who} said on Tuesday that {body} would spend "
            f"${(i + 1) * (k + 3)}.{k} million on {thing} over {k + 2} years, "
            f"about {10 + (i + k) % 80} percent more than planned in item {i}-{k}. "
            f"“We cannot wait another decade for {topic},” {who.split()[-1]} said. "
            f"Residents at the meeting asked how the {topic} plan would be paid for, "
            f"and the board agreed to publish a full budget before the vote in spring.")
    return out


def page(title: str, paragraphs: list[str], lang: str = "en", meta_charset: str | None = "utf-8",
         nav: bool = True) -> str:
    """An article page with a little boilerplate around the main text."""
    charset = f'<meta charset="{meta_charset}">' if meta_charset else ""
    menu = ("<nav><ul>" + "".join(f'<li><a href="/s{i}/">Section {i}</a></li>' for i in range(8))
            + "</ul></nav>") if nav else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="{lang}"><head>{charset}<title>{title}</title></head>'
            f"<body><header>{menu}</header><main><article><h1>{title}</h1>{body}</article>"
            f"</main><footer><p>© The Northfield Ledger</p></footer></body></html>")


def articles(root: Path, n: int, start: int = 0) -> list[Path]:
    """``n`` distinct invented article pages ``root/article-NNNNN.html``."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        path = root / f"article-{i:05d}.html"
        path.write_text(page(f"Council plan number {i}", english_paragraphs(i)), encoding="utf-8")
        paths.append(path)
    return paths


GERMAN = ("Die Stadtverwaltung von Nordfeld hat am Dienstag beschlossen, die Buslinien im Süden "
          "der Stadt auszubauen. Bürgermeisterin Greta Müller sagte, die Kosten würden über drei "
          "Jahre verteilt und die Fahrpreise blieben stabil.",
          "Viele Anwohner begrüßten die Entscheidung, doch einige Händler fürchten Baustellen vor "
          "ihren Geschäften. Sie verlangen Ausgleichszahlungen für die Monate, in denen die Straße "
          "gesperrt ist.",
          "Der Stadtrat will im Frühjahr über den genauen Zeitplan abstimmen und die Pläne "
          "öffentlich vorstellen. Eine Bürgerversammlung ist für den März geplant.")
RUSSIAN = ("Городской совет Северного Поля во вторник одобрил план строительства новой школы на "
           "окраине города. Глава совета Елена Маршева сказала, что работы начнутся весной.",
           "Жители района давно просили о новой школе, потому что старое здание переполнено. "
           "Родители жалуются, что дети учатся в две смены и поздно возвращаются домой.",
           "Депутаты обещали опубликовать смету расходов до начала работ и провести открытые "
           "слушания, на которых каждый сможет задать вопросы.")
CHINESE = ("北野市议会星期二批准了在城市东部修建新图书馆的计划。议长马伦说，工程将在明年春天开始，"
           "预计两年内完工，总投资约为三亿元。",
           "许多居民表示欢迎，因为现有的图书馆已经十分拥挤，周末常常找不到座位。一些家长说，孩子们"
           "需要一个安静的地方读书和做作业，新图书馆来得正是时候。",
           "市议会承诺在动工之前公布全部预算，并举行公开听证会，听取市民的意见和建议。附近的商店"
           "老板则担心施工期间的噪音和交通问题，希望市政府提前做好安排。",
           "新图书馆将设有儿童阅览室、自习区和多媒体中心，还会提供免费的无线网络。馆长表示，"
           "图书馆每天开放到晚上十点，方便下班后的市民前来借书和学习。")
def _warc_record(writer: WARCWriter, i: int, html: bytes, record_id: str) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                            protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(
        f"https://ledger.example/warc/{i}", "response", payload=io.BytesIO(html),
        http_headers=http, warc_headers_dict={"WARC-Record-ID": record_id}))


def record_id(name: str, i: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{zlib.crc32(name.encode()) % 10**8:08d}{i:04d}>"


def corrupt_warc(path: Path, n: int = 5, bad: int = 2, first: int = 900) -> dict[str, Outcome]:
    """A ``.warc.gz`` (one gzip member per record) whose record ``bad`` has its
    compressed bytes overwritten in the middle."""
    members, out = [], {}
    for i in range(n):
        buf = io.BytesIO()
        rid = record_id(path.name, i)
        _warc_record(WARCWriter(buf, gzip=True), i, page(
            f"Warc story {i}", english_paragraphs(first + i)).encode(), rid)
        member = bytearray(buf.getvalue())
        if i == bad:
            mid = len(member) // 2
            member[mid:mid + 64] = bytes(64)
            out[f"{path}@{sum(len(m) for m in members)}"] = Outcome(
                "error", "read", "CorruptWarcRecord", note="WARC record with corrupt gzip data")
        else:
            out[f"{path}#{rid}"] = Outcome("article", note="WARC record after/before a corrupt one")
        members.append(bytes(member))
    path.write_bytes(b"".join(members))
    return out


def overlong_warc(path: Path, n: int = 4, bad: int = 1, first: int = 950,
                  extra: int = 400) -> dict[str, Outcome]:
    """A plain ``.warc`` whose record ``bad`` declares a Content-Length that runs
    into the next record: it is read (with junk at its end) and flagged, and the
    record it swallowed is found again."""
    buf, out = io.BytesIO(), {}
    writer = WARCWriter(buf, gzip=False)
    offsets = []
    for i in range(n):
        offsets.append(buf.tell())
        rid = record_id(path.name, i)
        _warc_record(writer, i, page(f"Plain warc story {i}", english_paragraphs(first + i)).encode(), rid)
        out[f"{path}#{rid}"] = Outcome("article", note="plain WARC record")
    data = bytearray(buf.getvalue())
    start, end = offsets[bad], offsets[bad + 1]
    head = bytes(data[start:end])
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    data[start:end] = head.replace(f"Content-Length: {length}\r\n".encode(),
                                   f"Content-Length: {length + extra}\r\n".encode(), 1)
    path.write_bytes(bytes(data))
    out[f"{path}@{start}"] = Outcome("error", "read", "CorruptWarcRecord",
                                     note="plain WARC record with a wrong Content-Length")
    return out


def truncated_warc(path: Path, n: int = 3, first: int = 980) -> dict[str, Outcome]:
    """A ``.warc.gz`` cut 200 bytes before its end: the last record is cut short."""
    buf, out = io.BytesIO(), {}
    writer = WARCWriter(buf, gzip=True)
    for i in range(n):
        rid = record_id(path.name, i)
        _warc_record(writer, i, page(f"Cut story {i}", english_paragraphs(first + i)).encode(), rid)
        out[f"{path}#{rid}"] = (
            Outcome("article", note="WARC record before a truncated one") if i < n - 1 else
            Outcome("error", "read", "BadRecord", note="WARC record cut short (truncated .warc.gz)"))
    path.write_bytes(buf.getvalue()[:-200])
    return out


def bad_jsonl(path: Path, cap: int) -> dict[str, Outcome]:
    """JSONL with one good line between every kind of bad one."""
    good = lambda i: json.dumps({"html": page(f"Jsonl story {i}", english_paragraphs(1000 + i)),  # noqa: E731
                                 "url": f"https://ledger.example/j/{i}"})
    lines: list[tuple[bytes, Outcome | None]] = [
        (good(0).encode(), Outcome("article", note="JSONL html line")),
        (b'{"html": "<p>unterminated', Outcome("error", "read", "BadRecord", note="invalid JSON line")),
        (b"[1, 2, 3]", Outcome("error", "read", "BadRecord", note="JSON array line")),
        (b'"just a string"', Outcome("error", "read", "BadRecord", note="JSON string line")),
        (b"null", Outcome("error", "read", "BadRecord", note="JSON null line")),
        (json.dumps({"url": "https://ledger.example/x", "title": "No body"}).encode(),
         Outcome("error", "read", "BadRecord", note="object with neither html nor text")),
        (json.dumps({"html": 5, "text": ["a"]}).encode(),
         Outcome("error", "read", "BadRecord", note="html/text not strings")),
        (b"[" * 100_000 + b"]" * 100_000, Outcome("error", "read", "BadRecord", note="JSON nested 100,000 deep")),
        (bytes(random.Random(7).randbytes(3000)).replace(b"\n", b" "),
         Outcome("error", "read", "BadRecord", note="binary garbage line")),
        (b'{"text": "' + b"a" * (cap + 10) + b'"}', Outcome("error", "read", "TooLarge", note="line over the size cap")),
        (b"", None),  # blank lines are not documents
        (json.dumps({"text": "\n\n".join(english_paragraphs(1001)), "title": "Plain text line"}).encode(),
         Outcome("article", note="JSONL text line after the bad ones")),
    ]
    out: dict[str, Outcome] = {}
    with path.open("wb") as f:
        for number, (line, outcome) in enumerate(lines, start=1):
            f.write(line + b"\n")
            if outcome:
                out[f"{path}:{number}"] = outcome
    return out


def unbalanced_text(n: int = 130) -> str:
    """An article drowning in unbalanced quotation marks and absurd numbers."""
    marks = ['"', "“", "”", "«", "»", "„", "‘", "’", "'", "‹"]
    parts = []
    for i in range(n):
        parts.append(f"{marks[i % len(marks)]}Omar Feld said {'9' * (i % 40 + 1)},"
                     f"{'0' * (i % 7)}.{i} billion {marks[(i * 3) % len(marks)]} "
                     f"and 1e{i % 400} percent of ${'9' * 25}.")
        if i % 20 == 19:  # enough ordinary English around it to be read as English
            parts.append("\n" + " ".join(english_paragraphs(2000 + i, 2)) + "\n")
    return " ".join(parts)


def build(root: Path, cap: int = 20_000_000) -> dict[str, Outcome]:
    """Write the hostile corpus under ``root``; returns the expected outcome of
    every input document by source. ``cap`` is the run's --max_document_bytes."""
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Outcome] = {}

    def put(name: str, data: bytes | str, outcome: Outcome) -> Path:
        path = root / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        out[str(path)] = outcome
        return path

    put("empty.html", b"", Outcome("error", "clean", "NoMainText", note="empty file"))
    put("garbage.html", random.Random(4).randbytes(64 * 1024),
        Outcome("error", "clean", "NotText", note="binary garbage named .html"))
    huge = root / "huge.html"
    with huge.open("wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(HUGE_BYTES)
    out[str(huge)] = Outcome("error", "read", "TooLarge", note="200 MB file")
    bomb = zlib.compressobj(1, zlib.DEFLATED, 31)
    put("bomb.html.gz", b"".join(bomb.compress(bytes(MB)) for _ in range(HUGE_BYTES // MB)) + bomb.flush(),
        Outcome("error", "read", "TooLarge", note="gzip of 200 MB"))
    put("deep.html", "<html><body>" + "<div>" * 100_000 + "<p>" + "Deep text sits here. " * 40
        + "</p>" + "</div>" * 100_000 + "</body></html>",
        Outcome("error", "clean", "NoMainText", note="HTML nested 100,000 deep"))
    put("slow.html", "<html><body><article><p>" + "<span>w</span> " * 200_000 + "</p></article></body></html>",
        Outcome("error", "clean", "TimeBudgetExceeded", note="page trafilatura needs hours for"))
    whole = gzip.compress(page("Cut short", english_paragraphs(1100)).encode())
    put("truncated.html.gz", whole[: len(whole) // 2],
        Outcome("error", "read", "BadRecord", note="truncated .gz"))
    links = lambda k: "<ul>" + "".join(f'<li><a href="/{k}/{i}">{k.title()} {i}</a></li>'  # noqa: E731
                                       for i in range(12)) + "</ul>"
    put("nav.html", f"<html><head><title>Sections</title></head><body><header><nav>{links('section')}"
        f"</nav></header><aside><h2>Most read</h2>{links('story')}</aside>"
        f"<footer>{links('about')}<p>© The Northfield Ledger</p></footer></body></html>",
        Outcome("error", "clean", "NoMainText", note="navigation only"))
    same = page("The same story", english_paragraphs(1200))
    put("same-a.html", same, Outcome("article", note="an article ..."))
    put("same-b.html", same, Outcome("duplicate", note="... and the same article under another name"))
    put("notes.txt", "not a page", Outcome("error", "read", "UnsupportedFormat", note="unsupported file type"))
    put("german-cp1252.html", page("Nordfeld baut Buslinien aus", list(GERMAN), "de", None).encode("cp1252"),
        Outcome("article", nlp_status="skipped_language", note="German, windows-1252, no charset"))
    put("russian-cp1251.html", page("Новая школа", list(RUSSIAN), "ru", None).encode("cp1251"),
        Outcome("article", nlp_status="skipped_language", note="Russian, windows-1251, no charset"))
    put("chinese-utf8.html", page("新图书馆", list(CHINESE), "zh", None),
        Outcome("article", nlp_status="skipped_language", note="Chinese, UTF-8, no charset"))
    put("quotes.html", page("Quotes and numbers", unbalanced_text().split("\n")),
        Outcome("article", note="thousands of unbalanced quotes, absurd numbers"))
    for i in range(3):
        put(f"normal-{i}.html", page(f"Normal story {i}", english_paragraphs(1300 + i)),
            Outcome("article", nlp_status="ok", note="ordinary article"))
    long_text = "\n".join(english_paragraphs(1400, 1) * 1) + "\n"
    long_text = (long_text * (2_000_000 // len(long_text) + 1))[:2_000_000]
    long_path = root / "long.jsonl"
    long_path.write_text(json.dumps({"text": long_text, "title": "Very long"}) + "\n", encoding="utf-8")
    out[f"{long_path}:1"] = Outcome("article", nlp_status="truncated", note="2,000,000-character article")
    out.update(bad_jsonl(root / "lines.jsonl", cap))
    out.update(corrupt_warc(root / "crawl.warc.gz"))
    out.update(overlong_warc(root / "plain.warc"))
    out.update(truncated_warc(root / "cut.warc.gz"))
    return out
