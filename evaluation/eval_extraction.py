"""Score the pipeline's ``articles.text`` against ground truth on ../shared/corpus/pages.

Runs the real pipeline (``python -m pipeline``) on every ``*.html`` page, reads
the articles table back with DuckDB and computes, per page, bag-of-words
precision/recall/F1 of the extracted text against ``NAME.txt``. A page that
produced no article scores 0. The same score for a plain trafilatura loop is
printed alongside, so the pipeline can be seen not to lose quality.

    python -m evaluation.eval_extraction [--pages DIR] [--min-f1 0.95]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb

from evaluation.shared import REPO, require, shared_dir

_WORD = re.compile(r"\w+", re.UNICODE)


def bag_f1(predicted: str, gold: str) -> tuple[float, float, float]:
    p, g = Counter(_WORD.findall(predicted.lower())), Counter(_WORD.findall(gold.lower()))
    overlap = sum((p & g).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(g.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def run_pipeline(inputs: list[str], output: Path, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "pipeline", *[a for i in inputs for a in ("--input", i)],
           "--output", str(output), *extra]
    subprocess.run(cmd, check=True, cwd=REPO)


def plain_loop(pages: list[Path]) -> dict[str, str]:
    """The reference: trafilatura on each page's bytes, nothing else."""
    import trafilatura

    out = {}
    for page in pages:
        result = trafilatura.bare_extraction(page.read_bytes(), with_metadata=True)
        out[page.stem] = (result.text if result else "") or ""
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=None, help="default: ../shared/corpus/pages")
    ap.add_argument("--min-f1", type=float, default=0.95)
    ap.add_argument("--output", default=None, help="keep the pipeline output here")
    args = ap.parse_args()
    pages_dir = require(Path(args.pages) if args.pages else shared_dir() / "corpus" / "pages")
    pages = sorted(pages_dir.glob("*.html"))
    output = Path(args.output or tempfile.mkdtemp(prefix="eval-extraction-"))
    run_pipeline([str(pages_dir / "*.html")], output, ["--no_nlp"])

    con = duckdb.connect()
    texts = {Path(s).stem: t for s, t in con.sql(
        f"select source, text from read_parquet('{output}/articles/**/*.parquet')").fetchall()}
    dups = {Path(s).stem: Path(d).stem for s, d in con.sql(
        f"select source, duplicate_of_source from read_parquet('{output}/duplicates/**/*.parquet')").fetchall()}
    errors = {Path(s).stem: m for s, m in con.sql(
        f"select source, message from read_parquet('{output}/errors/**/*.parquet')").fetchall()}
    reference = plain_loop(pages)

    rows, missing = [], []
    for page in pages:
        name = page.stem
        gold = page.with_suffix(".txt").read_text(encoding="utf-8")
        text = texts.get(name, texts.get(dups.get(name, ""), None))
        if text is None and name not in errors:
            missing.append(name)
        rows.append((name, bag_f1(text or "", gold), bag_f1(reference[name], gold)[2]))
    n = len(rows)
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    report = {
        "pages": n, "articles": len(texts), "duplicates": len(dups), "errors": len(errors),
        "unaccounted": missing,
        "precision": round(mean([r[1][0] for r in rows]), 4),
        "recall": round(mean([r[1][1] for r in rows]), 4),
        "f1": round(mean([r[1][2] for r in rows]), 4),
        "plain_trafilatura_f1": round(mean([r[2] for r in rows]), 4),
    }
    worst = sorted(rows, key=lambda r: r[1][2])[:5]
    print("worst pages:", ", ".join(f"{name} {f[2]:.2f}" for name, f, _ in worst))
    print(json.dumps(report))
    ok = not missing and report["f1"] >= args.min_f1
    print(("PASS" if ok else "FAIL") + f": bag-of-words F1 {report['f1']} (target >= {args.min_f1}), "
          f"{n - len(missing)}/{n} pages accounted for")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
