"""The run summary: every input accounted for, printed and written to ``_run.json``."""
from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.dataset import files_under
from schemas.layout import row_count
from transforms.nlp import registry


def _staged_files(staged: str, table: str) -> list[str]:
    """Every Parquet file a run staged for ``table``."""
    return [f for f in files_under(FileSystems.join(staged, table)) if f.endswith(".parquet")]


def _read_column(staged: str, table: str, columns: list[str]) -> list[dict]:
    rows = []
    for path in _staged_files(staged, table):
        with FileSystems.open(path) as f:
            rows.extend(pq.read_table(f, columns=columns).to_pylist())
    return rows


def counters(result) -> dict[str, int]:
    """Committed Beam counters as ``namespace/name -> value``, and of each
    distribution its maximum (e.g. ``clean/worker_peak_rss_mb``), its count
    (``….count``) and its sum (``….sum``); empty if unsupported."""
    try:
        found = result.metrics().query()
    except Exception:
        return {}
    out: Counter = Counter()
    for c in found.get("counters", []):
        value = c.committed if c.committed is not None else c.attempted
        out[f"{c.key.metric.namespace}/{c.key.metric.name}"] += value or 0
    for d in found.get("distributions", []):
        value = d.committed if d.committed is not None else d.attempted
        key = f"{d.key.metric.namespace}/{d.key.metric.name}"
        if value is not None and value.count:
            out[key] = max(out[key], value.max)
            out[f"{key}.count"] += value.count
            out[f"{key}.sum"] += value.sum
    return dict(sorted(out.items()))


def extractor_ms(metrics: dict[str, int]) -> dict[str, dict]:
    """Per extractor (``annotate/extractor_us/<name>``): the articles it ran on, its
    mean and its longest time per article in milliseconds, and its total seconds."""
    prefix = f"annotate/{registry.TIMING}/"
    out = {}
    for key in sorted(metrics):
        name = key[len(prefix):]
        if key.startswith(prefix) and "." not in name and metrics.get(f"{key}.count"):
            count, total = metrics[f"{key}.count"], metrics[f"{key}.sum"]
            out[name] = {"articles": count, "mean": round(total / count / 1000, 3),
                         "max": round(metrics[key] / 1000, 3), "total_s": round(total / 1e6, 3)}
    return out


def peak_rss_mb(metrics: dict[str, int]) -> dict[str, int | None]:
    """Peak resident memory: this process (the launcher; with the in-process
    runner it runs the pipeline too) and the trafilatura and NLP worker processes."""
    import resource

    return {"launcher": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "extract_worker": metrics.get("clean/worker_peak_rss_mb"),
            "nlp_worker": metrics.get("annotate/worker_peak_rss_mb")}


def summarise(staged: str, tables: list[str], metrics: dict[str, int],
              seconds: float, run_id: str, record: dict) -> dict:
    """Counts from the staged tables (what will be published) plus the runner's
    counters; ``record`` (options, times, versions) is kept with them."""
    counts = {t: row_count(_staged_files(staged, t)) for t in tables}
    errors = _read_column(staged, "errors", ["stage", "error", "article_id"])
    lost = [e for e in errors if e["article_id"] is None]
    by_stage = dict(sorted(Counter(e["stage"] for e in lost).items()))
    by_code = dict(sorted(Counter(f"{e['stage']}/{e['error']}" for e in errors).items()))
    accounted = counts.get("articles", 0) + counts.get("duplicates", 0) + len(lost)
    inputs = (metrics.get("read/documents", 0) + metrics.get("read/errors", 0)
              if metrics else None)
    skipped = {k.split("/", 1)[1]: v for k, v in metrics.items()
               if k.startswith("read/") and k.endswith("_skipped")}
    articles = _read_column(staged, "articles", ["nlp_status", "language"])
    statuses = dict(sorted(Counter(r["nlp_status"] for r in articles).items()))
    languages = dict(Counter(r["language"] or "unknown" for r in articles).most_common())
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
        "errors_by_code": by_code,
        "nlp_status": statuses,
        "not_annotated_language": statuses.get("skipped_language", 0),
        "languages": languages,
        "over_budget": {"extract": metrics.get("clean/extract_budget_exceeded", 0),
                        "nlp": metrics.get("annotate/nlp_budget_exceeded", 0)},
        "peak_rss_mb": peak_rss_mb(metrics),
        "extractor_ms": extractor_ms(metrics),
        "rows": counts,
        "seconds": round(seconds, 2),
        "articles_per_second": round(counts.get("articles", 0) / seconds, 2) if seconds else None,
        "documents_per_second": round(accounted / seconds, 2) if seconds else None,
        "files_skipped": metrics.get("read/already_ingested_files_skipped", 0),
        "metrics": metrics,
        **record,
    }


def format_summary(s: dict) -> str:
    stages = ", ".join(f"{k} {v}" for k, v in s["errors_by_stage"].items()) or "none"
    skipped = (f"; {s['files_skipped']} files skipped (already ingested)"
               if s.get("files_skipped") else "")
    timed = ", ".join(f"{name} {t['mean']:.1f}" for name, t in s.get("extractor_ms", {}).items())
    timed = f"; extractors ms/article {timed}" if timed else ""
    check = {True: "all inputs accounted for", False: "MISMATCH: inputs != accounted",
             None: "runner reported no input count"}[s["all_accounted"]]
    return (f"run {s['run_id']}: {s['inputs'] if s['inputs'] is not None else '?'} inputs -> "
            f"{s['articles']} articles + {s['duplicates']} duplicates + {s['errors']} errors "
            f"({stages}); {check}"
            f"{skipped}\n"
            f"  {s['seconds']} s, {s['articles_per_second']} articles/s; "
            f"nlp {s['nlp_status']} ({s['not_annotated_language']} not annotated: "
            f"language other than English){timed}; rows {s['rows']}")
