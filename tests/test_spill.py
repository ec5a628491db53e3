"""Spill: text and NLP rows wait in files between the fused stage and the writers; the
stages between carry references, and the tables are the same as without."""
from __future__ import annotations

import json
import pickle
import uuid
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from pipeline.build import process_documents, read_config, resolve_model
from pipeline.options import NewsOptions
from schemas.layout import STAGING
from tests.conftest import SAMPLES, read_table, run_pipeline
from transforms.annotate import ANNOTATIONS, adopt_annotations
from transforms.dedupe import Deduplicate
from transforms.read import ReadDocuments
from transforms import spill
from transforms.spill import (FOLDER, MIN_BYTES, RestoreInOrder, Spill, Spilled, close_reader,
                              load, restore, restore_key)
from transforms.write import WriteTables, write_empty_tables

LONG = "The council met on Tuesday and agreed the budget. " * 40


def _records() -> list[dict]:
    return [{"id": n, "text": f"{n} {LONG}", ANNOTATIONS: pickle.dumps([f"row {i}" for i in range(50 + n)]),
             "title": f"short {n}"} for n in range(30)] + [{"id": 99, "text": "tiny"}]


def test_spilled_records_come_back_whole_and_only_long_values_leave(tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()

    def note(record: dict) -> dict:  # what the stages between would carry
        (seen / f"{record['id']}.pkl").write_bytes(pickle.dumps(record))
        return record

    with beam.Pipeline(runner=FnApiRunner()) as p:
        restored = (p | beam.Create(_records())
                    | Spill(str(tmp_path / FOLDER), ("text", ANNOTATIONS))
                    | "Note" >> beam.Map(note)
                    | RestoreInOrder()
                    | "Restore" >> beam.Map(restore))
        assert_that(restored, equal_to(_records()))
    carried = [pickle.loads(f.read_bytes()) for f in seen.iterdir()]
    assert len(carried) == 31
    for record in carried:
        long = record["id"] != 99
        assert isinstance(record["text"], Spilled) == long
        assert isinstance(record.get(ANNOTATIONS), Spilled) == long
        assert record.get("title") is None or isinstance(record["title"], str)
        assert len(pickle.dumps(record)) < MIN_BYTES * 2 + len(record["text"].path if long else "")
    assert list((tmp_path / FOLDER).iterdir())  # the bundle's file


def test_restore_groups_hold_one_block_of_a_file_each(tmp_path, monkeypatch):
    """A bundle's spill file is cut into blocks: each restore group holds the
    references into one block, and every record still comes back whole."""
    monkeypatch.setattr(spill, "BLOCK_BYTES", 4_000)
    records = [{"id": n, "text": " ".join(uuid.uuid4().hex for _ in range(60))} for n in range(40)]
    records.append({"id": 99, "text": "tiny"})
    grouped = tmp_path / "grouped"
    grouped.mkdir()
    in_file_order = spill._in_file_order

    def noted_group(keyed):  # what the GroupByKey handed over, group by group
        refs = [r["text"] for r in keyed[1] if isinstance(r["text"], Spilled)]
        (grouped / uuid.uuid4().hex).write_bytes(pickle.dumps((keyed[0], refs)))
        return in_file_order(keyed)
    monkeypatch.setattr(spill, "_in_file_order", noted_group)

    with beam.Pipeline(runner=FnApiRunner()) as p:
        restored = (p | beam.Create(records)
                    | Spill(str(tmp_path / FOLDER), ("text",))
                    | RestoreInOrder()
                    | "Restore" >> beam.Map(restore))
        assert_that(restored, equal_to(records))
    groups = [pickle.loads(f.read_bytes()) for f in grouped.iterdir()]
    spilled = [refs for _, refs in groups if refs]
    assert sum(map(len, spilled)) == 40
    assert len({r.path for refs in spilled for r in refs}) == 1  # one file, many groups
    assert len(spilled) >= 10
    for refs in spilled:
        assert len({r.offset // 4_000 for r in refs}) == 1  # each group one block
    assert restore_key({"id": 99, "article_id": "x", "text": "tiny"})[0] == ""


def test_a_truncated_spill_file_is_an_error_not_a_short_value(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    with pytest.raises(IOError, match="ends before"):
        load(Spilled(str(path), 0, 10))
    close_reader()


class _Carried(beam.PTransform):
    """Deduplication, with what reaches it written down (one file per article)."""

    def __init__(self, folder: Path, inner: beam.PTransform):
        super().__init__()
        self.folder, self.inner = folder, inner

    def expand(self, articles):
        folder = str(self.folder)

        def note(article: dict) -> dict:
            Path(folder, f"{uuid.uuid4().hex}.pkl").write_bytes(pickle.dumps(article))
            return article
        return articles | "Note" >> beam.Map(note) | "Inner" >> self.inner


def _tables(tmp_path: Path, name: str, staged: bool) -> tuple[Path, list[dict]]:
    out, carried = tmp_path / name, tmp_path / f"{name}-carried"
    carried.mkdir()
    opts = NewsOptions(["--input", str(SAMPLES / "html"), "--input", str(SAMPLES / "articles.jsonl"),
                        "--output", str(out)])
    resolve_model(opts)
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = p | ReadDocuments(read_config(opts, "none"))
        tables = process_documents(read, opts, _Carried(carried, Deduplicate(None, adopt_annotations)),
                                   staged=str(out) if staged else None, annotate_first=True)
        tables | WriteTables(str(out), None)
    write_empty_tables(str(out), list(tables))
    return out, [pickle.loads(f.read_bytes()) for f in carried.iterdir()]


def _rows(out: Path, table: str) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ("ingested_at",)},
                             default=str) for r in read_table(out, table))


def test_deduplication_gets_references_and_the_tables_are_the_same_as_without(tmp_path):
    spilled, carried = _tables(tmp_path, "spilled", staged=True)
    inline, inline_carried = _tables(tmp_path, "inline", staged=False)
    assert carried and len(carried) == len(inline_carried)
    for article in carried:
        assert isinstance(article["text"], Spilled), article["source"]
        assert len(pickle.dumps(article)) < 2_000
    assert max(len(a["text"]) for a in inline_carried) > 2_000
    for table in ("articles", "entities", "mentions", "figures", "quotes", "stories",
                  "signatures", "duplicates", "errors"):
        assert _rows(spilled, table) == _rows(inline, table), table
    assert all(a["text"] for a in read_table(spilled, "articles"))


def test_a_run_leaves_no_spill_files(tmp_path):
    out = tmp_path / "out"
    run_pipeline(out, SAMPLES / "html", SAMPLES / "articles.jsonl")
    run = json.loads(next((out / "_runs").glob("*.json")).read_text())
    assert run["metrics"]["spill/values_spilled"] > 0
    assert not (out / STAGING).exists()
    assert not list(out.rglob("*.bin"))
