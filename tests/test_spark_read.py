"""Apache Spark reads every table: the warehouse / Spark path of the analysts.

Needs pyspark and a JDK; skipped without them unless REQUIRE_SPARK=1 (CI installs
pyspark and sets it).
"""
from __future__ import annotations

import os
import shutil

import duckdb
import pytest

import schemas
from tests.conftest import SAMPLES, run_pipeline

try:
    import pyspark  # noqa: F401
    HAVE_SPARK = shutil.which("java") is not None
except ImportError:
    HAVE_SPARK = False

if not HAVE_SPARK and os.environ.get("REQUIRE_SPARK") == "1":
    pytest.fail("pyspark or java missing and REQUIRE_SPARK=1", pytrace=False)
pytestmark = pytest.mark.skipif(not HAVE_SPARK, reason="pyspark or java not installed")


def test_spark_reads_every_table_with_the_declared_types(tmp_path):
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T

    out = tmp_path / "out"
    summary = run_pipeline(out, SAMPLES / "html", SAMPLES / "bad")
    spark = (SparkSession.builder.master("local[1]").appName("news-read")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    try:
        for table, schema in schemas.TABLES.items():
            df = spark.read.parquet(str(out / table))
            assert df.count() == summary["rows"][table], table
            fields = {f.name: f.dataType for f in df.schema.fields}
            assert set(schema.names) | {"ingest_date"} == set(fields), table
            for name in schema.names:
                arrow = schema.field(name).type
                if str(arrow).startswith("timestamp"):
                    assert isinstance(fields[name], T.TimestampType), (table, name)
                elif str(arrow) == "date32[day]":
                    assert isinstance(fields[name], T.DateType), (table, name)
                elif str(arrow).startswith("list"):
                    assert isinstance(fields[name], T.ArrayType), (table, name)
        articles = spark.read.parquet(str(out / "articles"))
        titles = {r["title"] for r in articles.select("title").collect()}
        expected = {t for (t,) in duckdb.sql(
            f"select title from read_parquet('{out}/articles/**/*.parquet')").fetchall()}
        assert titles == expected
    finally:
        spark.stop()
