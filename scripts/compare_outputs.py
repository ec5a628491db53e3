"""Compare the tables of two pipeline output directories, order aside.

Usage: python scripts/compare_outputs.py DIR_A DIR_B   (exit 1 when any table differs)

Rows are read with DuckDB from ``DIR/<table>/**/*.parquet``; run-time columns
(``ingested_at`` and the ``ingest_date`` partition) are left out.
"""
from __future__ import annotations

import collections
import sys
from pathlib import Path

import duckdb

RUN_TIME_COLUMNS = ("ingested_at", "ingest_date")

Row = tuple
Tables = dict[str, list[Row]]


def _freeze(value: object) -> object:
    """Lists and structs as tuples, so rows can be counted and compared."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _sort_key(row: Row) -> tuple:
    return tuple((v is None, repr(v)) for v in row)


def load_tables(output: str | Path, exclude: tuple[str, ...] = RUN_TIME_COLUMNS) -> Tables:
    """{table: rows sorted canonically} for every table folder holding Parquet files."""
    tables: Tables = {}
    con = duckdb.connect()
    for folder in sorted(p for p in Path(output).iterdir() if p.is_dir() and not p.name.startswith("_")):
        if not any(folder.rglob("*.parquet")):
            continue
        rel = con.sql(f"select * from read_parquet('{folder}/**/*.parquet', hive_partitioning=true)")
        keep = [c for c in rel.columns if c not in exclude]
        columns = ", ".join('"' + c + '"' for c in keep)
        rows = con.sql(f"select {columns} from rel").fetchall()
        tables[folder.name] = sorted((tuple(_freeze(v) for v in r) for r in rows), key=_sort_key)
    return tables


def row_counts(tables: Tables) -> dict[str, int]:
    return {name: len(rows) for name, rows in tables.items()}


def diff_tables(a: Tables, b: Tables, limit: int = 3) -> dict[str, str]:
    """{table: description} of every table whose rows differ (as multisets)."""
    problems: dict[str, str] = {}
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems[name] = f"only in {'first' if name in a else 'second'} output"
            continue
        ca, cb = collections.Counter(a[name]), collections.Counter(b[name])
        only_a, only_b = list((ca - cb).elements()), list((cb - ca).elements())
        if only_a or only_b:
            problems[name] = (f"{len(a[name])} vs {len(b[name])} rows; "
                              f"{len(only_a)} only in first, e.g. {only_a[:limit]}; "
                              f"{len(only_b)} only in second, e.g. {only_b[:limit]}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (load_tables(d) for d in argv)
    for name in sorted(set(a) | set(b)):
        print(f"{name:12s} {len(a.get(name, [])):6d} {len(b.get(name, [])):6d}")
    problems = diff_tables(a, b)
    for name, text in problems.items():
        print(f"DIFF {name}: {text}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
