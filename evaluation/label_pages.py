"""Labelling helper for the real-page set (``evaluation/data/pages_labelled.jsonl``).

    python -m evaluation.label_pages show NAME      # the page's .txt with numbered quote spans
    python -m evaluation.label_pages build SHEETDIR # label sheets -> pages_labelled.jsonl

``show`` numbers every span between quotation marks (curly pairs, straight quotes
alternating within a paragraph; an unclosed opening mark runs to the paragraph's end)
so that a labeller can refer to it as ``Q3``. It reads nothing but the text.

A label sheet (``SHEETDIR/NAME.lab``, written by a person reading the text) has lines:

    Q3 = Dana Whitfield | PERSON | p part     quote 3: canonical speaker, label, tags
    Q4 = x                                    not a quotation (title, scare quote, name)
    Q5 = - | unnamed | n                      a source with no name (label unnamed/ORG/GPE)
    @120-188 = Dana Whitfield | PERSON        a quote span given by offsets
    E Dana Whitfield | PERSON | Whitfield     an entity: canonical name, label, a surface
                                              form to locate its first mention (default: name)
    ENTITIES complete                         every PERSON/ORG/GPE entity of the page is listed

Tags: ``p`` the cue's speaker is a pronoun, ``part`` a partial quote, ``v`` partial quote in a
sentence with its own speech verb, ``n`` non-person or unnamed source, ``r`` a relation
("her mother"), ``s`` two people share the surname, ``c`` canonical name needs linking
(title, "Mr. X", hyphenated first name, bare surname far from the full name).
The output holds offsets, names, labels and the sha256 of the .txt: never the text.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from pathlib import Path

from evaluation.shared import shared_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "evaluation" / "data" / "pages_labelled.jsonl"


def pages_dir() -> Path:
    return shared_dir() / "corpus" / "pages"


def page_text(name: str) -> str:
    return (pages_dir() / f"{name}.txt").read_text(encoding="utf-8")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Content spans (start, end) between quotation marks, paragraph by paragraph."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        p0, body = para.start(), para.group()
        opened: int | None = None
        straight = False
        for i, ch in enumerate(body):
            if ch == "“" and opened is None:
                opened, straight = i + 1, False
            elif ch == "”" and opened is not None and not straight:
                spans.append((p0 + opened, p0 + i))
                opened = None
            elif ch == '"':
                if opened is None:
                    opened, straight = i + 1, True
                elif straight:
                    spans.append((p0 + opened, p0 + i))
                    opened = None
        if opened is not None:
            spans.append((p0 + opened, p0 + len(body)))
    return [(a, b) for a, b in spans if b > a]


def show(name: str) -> None:
    text = page_text(name)
    spans = quote_spans(text)
    marks: dict[int, str] = {}
    for n, (a, b) in enumerate(spans, 1):
        marks[a] = marks.get(a, "") + f"⟦Q{n}@{a}:"
        marks[b] = f"⟧" + marks.get(b, "")
    out = []
    for i, ch in enumerate(text):
        out.append(marks.get(i, "") + ch)
    out.append(marks.get(len(text), ""))
    print(f"# {name} chars={len(text)} quotes={len(spans)}")
    print("".join(out))


def _fields(rhs: str) -> list[str]:
    return [f.strip() for f in rhs.split("|")]


def parse_sheet(name: str, sheet: str) -> dict:
    text = page_text(name)
    spans = quote_spans(text)
    quotes, entities, complete = [], [], False
    for raw in sheet.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "ENTITIES complete":
            complete = True
            continue
        if line.startswith("E "):
            f = _fields(line[2:])
            canon, label = f[0], f[1]
            surface = f[2] if len(f) > 2 and f[2] else canon
            at = text.find(surface)
            if at < 0:
                raise ValueError(f"{name}: entity surface {surface!r} not in text")
            entities.append({"name": canon, "label": label, "start": at,
                             "end": at + len(surface)})
            continue
        key, rhs = (s.strip() for s in line.split("=", 1))
        if key.startswith("Q"):
            start, end = spans[int(key[1:]) - 1]
        else:
            start, end = (int(v) for v in key.lstrip("@").split("-"))
        f = _fields(rhs)
        if f[0] == "x":
            quotes.append({"start": start, "end": end, "quote": False})
            continue
        quotes.append({"start": start, "end": end, "quote": True,
                       "speaker": None if f[0] == "-" else f[0],
                       "speaker_label": f[1] if len(f) > 1 else "PERSON",
                       "tags": f[2].split() if len(f) > 2 else []})
    quotes.sort(key=lambda q: q["start"])
    return {"page": name, "sha256": sha256(text), "chars": len(text), "quotes": quotes,
            "entities": entities, "entities_complete": complete}


def norm_name(name: str | None) -> str:
    """A name compared "after case/Unicode normalisation": NFKC, casefold, one kind of
    apostrophe, single spaces, no edge punctuation nor leading "the"."""
    if not name:
        return ""
    s = unicodedata.normalize("NFKC", name).replace("’", "'").replace("‘", "'")
    s = " ".join(s.casefold().split()).strip(" .,;:")
    return s[4:] if s.startswith("the ") else s


def load_pages(path: Path = OUT, shared: str | None = None) -> list[dict]:
    """The labelled pages with their ``text``; a page whose .txt changed (sha256) is an
    error, since its offsets would point at other characters."""
    pages = []
    root = shared_dir(shared) / "corpus" / "pages"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        text = (root / f"{rec['page']}.txt").read_text(encoding="utf-8")
        if sha256(text) != rec["sha256"]:
            raise ValueError(f"{rec['page']}: text changed since it was labelled")
        rec["text"] = text
        pages.append(rec)
    return pages


def build(sheet_dir: Path) -> None:
    rows = [parse_sheet(p.stem, p.read_text(encoding="utf-8"))
            for p in sorted(sheet_dir.glob("*.lab"))]
    with open(OUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    nq = sum(q["quote"] for r in rows for q in r["quotes"])
    ne = sum(len(r["entities"]) for r in rows)
    print(f"{len(rows)} pages, {nq} quotes, {ne} entities "
          f"({sum(r['entities_complete'] for r in rows)} pages with all entities) -> {OUT}")


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    show(arg) if cmd == "show" else build(Path(arg))
