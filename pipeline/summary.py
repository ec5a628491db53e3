"""The run summary: every input accounted for, printed and written to ``_run.json``."""
from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.output import table_files


def _read_column(output: str, table: str, columns: list[str]) -> list[dict]:
    rows = []
    for path in table_files(output, table):
        with FileSystems.open(path) as f:
            rows.extend(pq.read_table(f, columns=columns).to_pylist())
    return rows


def _row_count(output: str, table: str) -> int:
    total = 0
    for path in table_files(output, table):
        with FileSystems.open(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def counters(result) -> dict[str, int]:
    """Committed Beam counters as ``namespace/name -> value`` (empty if unsupported)."""
    try:
        found = result.metrics().query()["counters"]
    except Exception:
        return {}
    out: Counter = Counter()
    for c in found:
        value = c.committed if c.committed is not None else c.attempted
        out[f"{c.key.metric.namespace}/{c.key.metric.name}"] += value or 0
    return dict(sorted(out.items()))


def summarise(output: str, tables: list[str], metrics: dict[str, int],
              seconds: float, run_id: str, options: dict) -> dict:
    """Counts from the published tables (the truth) plus the runner's counters."""
    counts = {t: _row_count(output, t) for t in tables}
    errors = _read_column(output, "errors", ["stage", "article_id"])
    lost = [e for e in errors if e["article_id"] is None]
    by_stage = dict(sorted(Counter(e["stage"] for e in lost).items()))
    accounted = counts.get("articles", 0) + counts.get("duplicates", 0) + len(lost)
    inputs = (metrics.get("read/documents", 0) + metrics.get("read/errors", 0)
              if metrics else None)
    skipped = {k.split("/", 1)[1]: v for k, v in metrics.items()
               if k.startswith("read/") and k.endswith("_skipped")}
    statuses = dict(sorted(Counter(
        r["nlp_status"] for r in _read_column(output, "articles", ["nlp_status"])).items()))
    return {
        "run_id": run_id,
        "inputs": inputs,
        "articles": counts.get("articles", 0),
        "duplicates": counts.get("duplicates", 0),
        "errors": len(lost),
        "errors_by_stage": by_stage,
        "annotation_errors": len(errors) - len(lost),
        "skipped_records": skipped,
        "accounted": accounted,
        "all_accounted": None if inputs is None else inputs == accounted,
        "nlp_status": statuses,
        "rows": counts,
        "seconds": round(seconds, 2),
        "articles_per_second": round(counts.get("articles", 0) / seconds, 2) if seconds else None,
        "documents_per_second": round(accounted / seconds, 2) if seconds else None,
        "metrics": metrics,
        "options": options,
    }


def write_summary(output: str, summary: dict) -> str:
    path = FileSystems.join(output, "_run.json")
    with FileSystems.create(path) as f:
        f.write(json.dumps(summary, indent=2, default=str).encode("utf-8"))
    return path


def format_summary(s: dict) -> str:
    stages = ", ".join(f"{k} {v}" for k, v in s["errors_by_stage"].items()) or "none"
    check = {True: "all inputs accounted for", False: "MISMATCH: inputs != accounted",
             None: "runner reported no input count"}[s["all_accounted"]]
    return (f"run {s['run_id']}: {s['inputs'] if s['inputs'] is not None else '?'} inputs -> "
            f"{s['articles']} articles + {s['duplicates']} duplicates + {s['errors']} errors "
            f"({stages}); {check}\n"
            f"  {s['seconds']} s, {s['articles_per_second']} articles/s; "
            f"nlp {s['nlp_status']}; rows {s['rows']}")
