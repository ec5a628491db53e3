"""The table comparison the runner-equivalence test relies on (fast, no runner)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scripts.compare_outputs import diff_tables, load_tables, row_counts


def _write(output: Path, day: str, rows: list[dict], part: int = 0) -> None:
    folder = output / "quotes" / f"ingest_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / f"part-{part}.parquet")


def _row(quote: str, at: int, speakers: list[str]) -> dict:
    return {"quote": quote, "speakers": speakers,
            "ingested_at": dt.datetime(2026, 3, 1, at, tzinfo=dt.timezone.utc)}


def test_same_rows_in_other_order_files_and_run_times_are_equal(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, "2026-03-01", [_row("We will build it", 1, ["Gov. Ellen Marsh"]),
                             _row("Not this year", 1, ["Omar T. Feld"])])
    _write(b, "2026-03-02", [_row("Not this year", 9, ["Omar T. Feld"])], part=0)
    _write(b, "2026-03-02", [_row("We will build it", 9, ["Gov. Ellen Marsh"])], part=1)
    ta, tb = load_tables(a), load_tables(b)
    assert row_counts(ta) == row_counts(tb) == {"quotes": 2}
    assert diff_tables(ta, tb) == {}


def test_a_changed_list_value_or_a_missing_duplicate_row_is_reported(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    row = _row("We will build it", 1, ["Gov. Ellen Marsh"])
    _write(a, "2026-03-01", [row, row])
    _write(b, "2026-03-01", [row])
    _write(c, "2026-03-01", [row, _row("We will build it", 1, ["Ellen Marsh"])])
    assert set(diff_tables(load_tables(a), load_tables(b))) == {"quotes"}
    problem = diff_tables(load_tables(a), load_tables(c))["quotes"]
    assert "1 only in first" in problem and "'Ellen Marsh'" in problem
