"""The dataset layout in ``schemas.layout``: table names and where files live."""
import datetime as dt
import re

import schemas
from schemas import layout


def test_every_table_name_has_its_schema():
    names = [layout.ARTICLES, layout.ERRORS, layout.DUPLICATES, layout.FILES, *layout.NLP_TABLES]
    assert set(names) <= set(schemas.TABLES)
    for name in names:
        assert schemas.TABLES[name].metadata[b"table"].decode() == name


def test_paths_of_a_table(tmp_path):
    out = str(tmp_path)
    assert layout.table_glob(out, "quotes") == f"{out}/quotes/**.parquet"
    assert layout.partition(dt.date(2026, 3, 20)) == "ingest_date=2026-03-20"
    assert layout.partition("2026-03-20") == "ingest_date=2026-03-20"
    assert layout.staging_dir(out, "r1") == f"{out}/_staging/r1"
    assert layout.staging_dir(out) == f"{out}/_staging"
    assert layout.streaming_temp_dir(out, "r1") == f"{out}/_streaming/r1"
    assert layout.summary_path(out) == f"{out}/_run.json"


def test_run_ids_sort_by_start_and_differ():
    early = layout.new_run_id(dt.datetime(2026, 3, 20, 1, 2, 3, tzinfo=dt.timezone.utc))
    assert re.fullmatch(r"20260320T010203Z-[0-9a-f]{8}", early)
    assert layout.new_run_id() > early
    assert layout.new_run_id() != layout.new_run_id()


def test_row_count_reads_the_footers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for i, n in enumerate((3, 0, 5)):
        path = tmp_path / f"part-{i}.parquet"
        pq.write_table(pa.table({"x": list(range(n))}, schema=pa.schema([("x", pa.int64())])), path)
        paths.append(str(path))
    assert layout.row_count(paths) == 8
    assert layout.row_count([]) == 0
