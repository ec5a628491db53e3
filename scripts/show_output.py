"""Print the run summary and a few rows of each table with DuckDB.

    python scripts/show_output.py OUTPUT_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

QUERIES = {
    "articles": "select title, author, published, language, word_count, nlp_status "
                "from t order by published desc nulls last limit 5",
    "errors": "select source, stage, error, message from t limit 5",
    "entities": "select name, label, mentions from t order by mentions desc, name limit 8",
    "figures": "select text, kind, value, unit, qualifier from t limit 8",
    "quotes": "select speaker, cue, kind, left(quote, 60) as quote from t limit 8",
}


def main(output: str) -> None:
    out = Path(output)
    summary = out / "_run.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        print(f"\n{out}/_run.json: rows {s['rows']}")
    con = duckdb.connect()
    for table, query in QUERIES.items():
        files = list((out / table).rglob("*.parquet"))
        if not files:
            continue
        con.execute(f"create or replace view t as select * from read_parquet('{out}/{table}/**/*.parquet')")
        print(f"\n-- {table}: {query.replace(' from t', f' from {table}')}")
        con.sql(query).show(max_width=140)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output")
