"""Helper for hand-labelling figures on ``SHARED/corpus/pages`` (no pipeline code here).

``show NAME``: print each paragraph of ``NAME.txt`` that holds a digit or a number word,
with ``⟦offset⟧`` before every candidate, for a person to read and label.

``build NOTES OUT``: turn labelling notes into ``OUT`` (JSONL of offsets and values;
no text). A notes file has ``= NAME`` lines naming the page, then one figure a line:

    START|surface|kind|value|value_high|unit|qualifier

``surface`` is what the labeller read at ``START``; it is checked against the page
(``text[START:START+len(surface)] == surface``) and then dropped: the output keeps
offsets, values and the page's sha256, never the publisher's words. Empty fields are
null; ``kind`` is one of ``evaluation/data/README_figures_pages.md``'s kinds.

``check OUT``: re-validate a built file against the pages (sha256, offsets in range).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.shared import shared_dir  # noqa: E402

KINDS = {"money", "percent", "count", "name", "skip"}
QUALIFIERS = {None, "approx", "more_than", "less_than", "at_least", "at_most", "up_to"}
_WORDS = ("one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
          "sixty seventy eighty ninety hundred thousand million billion trillion dozen "
          "half quarter third percent").split()
CANDIDATE = re.compile(r"\d[\d,.]*|\b(?:%s)\b|%%" % "|".join(_WORDS), re.I)


def pages_dir(shared: str | None = None) -> Path:
    return shared_dir(shared) / "corpus" / "pages"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_page(name: str, shared: str | None = None) -> str:
    return (pages_dir(shared) / f"{name}.txt").read_text(encoding="utf-8")


def show(name: str, shared: str | None = None) -> None:
    text = read_page(name, shared)
    print(f"# {name} chars={len(text)} sha256={sha256(text)[:12]}")
    pos = 0
    for para in text.split("\n"):
        hits = list(CANDIDATE.finditer(para))
        if hits:
            out, last = [], 0
            for h in hits:
                out.append(para[last:h.start()])
                out.append(f"⟦{pos + h.start()}⟧")
                last = h.start()
            out.append(para[last:])
            print("".join(out))
        pos += len(para) + 1


def _num(field: str) -> float | None:
    return float(field) if field.strip() else None


def build(notes: Path, out: Path, shared: str | None = None) -> int:
    rows, page, text, errors = [], None, "", []
    for n, line in enumerate(notes.read_text(encoding="utf-8").splitlines(), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("= "):
            page = line[2:].strip()
            text = read_page(page, shared)
            continue
        parts = line.split("|")
        if len(parts) != 7 or page is None:
            errors.append(f"line {n}: expected 7 fields after a '= NAME' line: {line!r}")
            continue
        start_s, surface, kind, value, high, unit, qual = parts
        start = int(start_s)
        end = start + len(surface)
        if text[start:end] != surface:
            errors.append(f"line {n}: {page}[{start}:{end}] is {text[start:end]!r}, "
                          f"not {surface!r}")
            continue
        if kind not in KINDS or (qual or None) not in QUALIFIERS:
            errors.append(f"line {n}: bad kind/qualifier {kind!r}/{qual!r}")
            continue
        rows.append({"page": page, "sha256": sha256(text), "start": start, "end": end,
                     "kind": kind, "value": _num(value), "value_high": _num(high),
                     "unit": unit or None, "qualifier": qual or None})
    if errors:
        print("\n".join(errors))
        return 1
    rows.sort(key=lambda r: (r["page"], r["start"]))
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} labels on {len({r['page'] for r in rows})} pages -> {out}")
    return check(out, shared)


def check(path: Path, shared: str | None = None) -> int:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    bad = 0
    texts: dict[str, str] = {}
    for r in rows:
        text = texts.setdefault(r["page"], read_page(r["page"], shared))
        if sha256(text) != r["sha256"] or not 0 <= r["start"] < r["end"] <= len(text):
            print(f"BAD {r}")
            bad += 1
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"checked {len(rows)} labels: {bad} bad; by kind {kinds}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show")
    s.add_argument("names", nargs="+")
    b = sub.add_parser("build")
    b.add_argument("notes", type=Path)
    b.add_argument("out", type=Path)
    c = sub.add_parser("check")
    c.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "show":
        for name in args.names:
            show(name, args.shared)
        return 0
    if args.cmd == "build":
        return build(args.notes, args.out, args.shared)
    return check(args.out, args.shared)


if __name__ == "__main__":
    sys.exit(main())
