"""Run texts through the real pipeline, as a user does, and read the Parquet back.

Each record becomes one JSONL line (``text`` plus optional ``url``/``language``); the
pipeline runs as a subprocess (``python -m pipeline``, default options unless ``args``
says otherwise), and the published tables are read back with DuckDB. Every record ends
as an article (its status and figures), a duplicate (the kept article's) or an error.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table(con, output: Path, table: str) -> list[dict]:
    rel = con.sql(f"select * from read_parquet('{output}/{table}/**/*.parquet')")
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


def run_records(records: list[dict], args: tuple[str, ...] = ()) -> list[dict]:
    """One result per record, in order: ``{"status", "text", "figures", "error"}``.

    ``status`` is the article's ``nlp_status``, ``"duplicate"`` resolved to the kept
    article's status, or ``"error:<code>"``.
    """
    import duckdb

    with tempfile.TemporaryDirectory(prefix="eval-figures-") as tmp:
        src = Path(tmp) / "records.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "pipeline", "--input", str(src), "--output", str(out),
               "--progress_seconds", "0", *args]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise RuntimeError(f"pipeline exited {done.returncode}: {done.stderr[-2000:]}")
        con = duckdb.connect()
        articles = {a["source"]: a for a in _table(con, out, "articles")}
        by_id = {a["article_id"]: a for a in articles.values()}
        figures: dict[str, list[dict]] = {}
        for f in _table(con, out, "figures"):
            figures.setdefault(f["article_id"], []).append(f)
        dups = {d["source"]: d for d in _table(con, out, "duplicates")}
        errors = {e["source"]: e for e in _table(con, out, "errors") if e["article_id"] is None}
    results = []
    for n in range(1, len(records) + 1):
        source = f"{src}:{n}"
        art = articles.get(source)
        if art is None and source in dups:
            art = by_id.get(dups[source]["duplicate_of"])
        if art is not None:
            results.append({"status": art["nlp_status"], "text": art["text"],
                            "language": art["language"], "error": None,
                            "figures": sorted(figures.get(art["article_id"], []),
                                              key=lambda f: f["start"])})
        else:
            err = errors.get(source, {"error": "Missing", "message": "no row"})
            results.append({"status": f"error:{err['error']}", "text": None, "language": None,
                            "figures": [], "error": err.get("message")})
    return results


def status_counts(results: list[dict]) -> dict[str, int]:
    return dict(Counter(r["status"] for r in results).most_common())
