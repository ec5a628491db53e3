"""Shared fixtures: the real spaCy model, pipeline runs, ../shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from evaluation.shared import shared_dir

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def nlp():
    """The real English model, loaded once for the whole test session."""
    from transforms.nlp.model import load_model
    return load_model()


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips when absent (fails when REQUIRE_SHARED=1)."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        if os.environ.get("REQUIRE_SHARED") == "1":
            pytest.fail(f"{path} is absent and REQUIRE_SHARED=1")
        pytest.skip(f"{path} is absent (evaluation data lives in ../shared)")
    return path


def run_pipeline(output: Path, *inputs, args: tuple[str, ...] = ()) -> dict:
    """Run the real pipeline in-process; returns the parsed ``_run.json``."""
    import json

    from pipeline.run import main

    argv = [a for i in inputs for a in ("--input", str(i))] + ["--output", str(output), *args]
    assert main(argv) == 0
    return json.loads((output / "_run.json").read_text())


def read_table(output: Path, table: str):
    """A published table read back with DuckDB, as a list of dicts."""
    import duckdb

    con = duckdb.connect()
    rel = con.sql(f"select * from read_parquet('{output}/{table}/**/*.parquet')")
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]
