"""Publish a run's staged tables all-or-nothing, through a write-ahead journal.

A run writes every table under ``_staging/<run_id>/``. Publishing then:

1. plans every rename: a full run moves each table's published files aside to
   ``_trash/<run_id>/`` and the staged files into ``<table>/ingest_date=D/``;
   an ``--incremental`` run only moves its staged files in;
2. writes the plan to ``_journal/<run_id>.json`` (state ``prepared``) before
   moving anything;
3. renames, step by step; any failure renames back what was done, in reverse;
4. commits: the journal's state becomes ``committed`` (one atomic rename);
5. writes the run record (``_run.json``, ``_runs/<run_id>.json``, kept in the
   journal too), then removes the trash, the staging folder and the journal.

A run that dies mid-way leaves the journal. The next run (under the dataset's
lock, before anything else) rolls a ``prepared`` journal back and finishes a
``committed`` one, so the glob ``OUTPUT/<table>/**/*.parquet`` shows the old set
of files or the new one, never a mix that lasts.

``NEWS_PIPELINE_PUBLISH_CRASH_AFTER=k`` (tests only) SIGKILLs the process after
step k of the publish (each rename is a step, then the commit, then cleanup).
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

from pipeline.dataset import files_under, is_local, join, relative, table_files, write_json
from schemas.layout import JOURNAL, RUNS, STAGING, SUMMARY, TRASH

CRASH_AFTER = "NEWS_PIPELINE_PUBLISH_CRASH_AFTER"


class PublishError(Exception):
    """The publish failed and was rolled back: the dataset is as it was."""


def staging_dir(output: str, run_id: str) -> str:
    return join(output, STAGING, run_id)


@dataclass
class Plan:
    """The renames of one publish, in order, as ``[source, target]`` pairs."""

    run_id: str
    moves: list[list[str]] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    state: str = "prepared"

    def to_json(self) -> bytes:
        return json.dumps({"run_id": self.run_id, "state": self.state, "moves": self.moves,
                           "record": self.record}, indent=1, default=str).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Plan":
        raw = json.loads(data.decode("utf-8"))
        return cls(raw["run_id"], raw["moves"], raw.get("record") or {}, raw["state"])


def plan_publish(output: str, run_id: str, tables: list[str], ingest_date: str,
                 replace: bool, record: dict) -> Plan:
    """Every rename: old files aside (``replace``), then staged files in;
    ``record`` is the run summary written once the publish commits."""
    plan = Plan(run_id, record=record)
    if replace:
        for table in tables:
            for old in table_files(output, table):
                plan.moves.append([old, join(output, TRASH, run_id, relative(old, output))])
    staged = staging_dir(output, run_id)
    for table in tables:
        folder = join(staged, table)
        for new in files_under(folder):
            if new.endswith(".parquet"):
                name = relative(new, folder).replace("/", "-")
                plan.moves.append([new, join(output, table, f"ingest_date={ingest_date}",
                                             f"{run_id}-{name}")])
    return plan


class Journal:
    """``_journal/<run_id>.json``: the plan, written before anything moves."""

    def __init__(self, output: str, run_id: str):
        self.output, self.path = output, join(output, JOURNAL, f"{run_id}.json")

    def write(self, plan: Plan) -> None:
        write_json(self.path, plan.to_json())

    def remove(self) -> None:
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        remove_if_empty(join(self.output, JOURNAL))


class _Steps:
    """Counts publish steps for the crash-injection hook."""

    def __init__(self):
        raw = os.environ.get(CRASH_AFTER)
        self.crash_after = int(raw) if raw else None
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.crash_after is not None and self.done >= self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)


def _rename(source: str, target: str) -> None:
    if is_local(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)  # atomic, and never replaces a folder
    else:
        FileSystems.rename([source], [target])


def _undo(moves: list[list[str]]) -> list[str]:
    """Rename back every move that happened (target present, source absent);
    returns the moves it could not undo."""
    failed = []
    for source, target in reversed(moves):
        if FileSystems.exists(target) and not FileSystems.exists(source):
            try:
                _rename(target, source)
            except OSError as exc:
                failed.append(f"{target}: {exc}")
    return failed


def delete_tree(path: str) -> None:
    files = files_under(path)
    if files:
        FileSystems.delete(files)
    if is_local(path) and os.path.isdir(path):
        for root, dirs, _ in os.walk(path, topdown=False):
            for d in dirs:
                os.rmdir(os.path.join(root, d))
        os.rmdir(path)


def remove_if_empty(folder: str) -> None:
    if is_local(folder) and os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def _clean_up(output: str, run_id: str) -> None:
    delete_tree(join(output, TRASH, run_id))
    delete_tree(staging_dir(output, run_id))
    remove_if_empty(join(output, TRASH))
    remove_if_empty(join(output, STAGING))


def _empty_folders(output: str, tables: list[str]) -> None:
    """Remove partition folders a rollback or replace left empty (local only)."""
    if not is_local(output):
        return
    for table in tables:
        top = os.path.join(output, table)
        for root, dirs, files in os.walk(top, topdown=False):
            if root != top and not dirs and not files:
                os.rmdir(root)


def write_record(output: str, record: dict) -> None:
    """The run summary: ``_runs/<run_id>.json`` (history) and ``_run.json`` (latest)."""
    payload = json.dumps(record, indent=2, default=str).encode("utf-8")
    write_json(join(output, RUNS, f"{record['run_id']}.json"), payload)
    write_json(join(output, SUMMARY), payload)


def _finish(output: str, plan: Plan, tables: list[str], steps: "_Steps | None" = None) -> None:
    """After the commit: the run record, then the run's scratch, then the journal."""
    write_record(output, plan.record)
    _clean_up(output, plan.run_id)
    _empty_folders(output, tables)
    if steps:
        steps.step()
    Journal(output, plan.run_id).remove()


def publish(output: str, plan: Plan, tables: list[str]) -> None:
    """Apply ``plan`` (see the module's docstring). Raises ``PublishError`` after
    rolling back; the dataset is then as it was."""
    steps, journal = _Steps(), Journal(output, plan.run_id)
    journal.write(plan)
    done: list[list[str]] = []
    try:
        for source, target in plan.moves:
            _rename(source, target)
            done.append([source, target])
            steps.step()
        plan.state = "committed"
        journal.write(plan)
    except Exception as exc:
        failed = _undo(done)
        _empty_folders(output, tables)
        if failed:  # the journal stays: the next run finishes the rollback
            raise PublishError(f"publish failed ({exc}); {len(failed)} files could not be "
                               f"moved back yet, the next run will") from exc
        journal.remove()
        raise PublishError(f"publish failed and was rolled back: {exc}") from exc
    steps.step()
    _finish(output, plan, tables, steps)


def recover(output: str, tables: list[str]) -> list[str]:
    """Finish what killed publishes left (call with the lock held): roll back a
    ``prepared`` journal, complete a ``committed`` one. Returns what it did."""
    done = []
    for path in files_under(join(output, JOURNAL)):
        if not path.endswith(".json"):
            continue
        with FileSystems.open(path) as f:
            plan = Plan.from_json(f.read())
        if plan.state == "committed":
            _finish(output, plan, tables)
            done.append(f"completed the publish of run {plan.run_id}")
            continue
        else:
            failed = _undo(plan.moves)
            if failed:
                raise PublishError(f"cannot roll back the publish of run {plan.run_id}: "
                                   f"{failed[0]}")
            done.append(f"rolled back the interrupted publish of run {plan.run_id}")
        _empty_folders(output, tables)
        FileSystems.delete([path])
    remove_if_empty(join(output, JOURNAL))
    return done


def remove_stale_scratch(output: str) -> list[str]:
    """Staging and trash folders of runs that are gone (call with the lock held:
    no other run is alive then, and recovery has already used what it needed)."""
    removed = []
    for kind in (STAGING, TRASH):
        top = join(output, kind)
        if is_local(top):
            runs = set(os.listdir(top)) if os.path.isdir(top) else set()
        else:
            runs = {relative(f, top).split("/", 1)[0] for f in files_under(top)}
        for run in sorted(runs):
            delete_tree(join(top, run))
            removed.append(f"{kind}/{run}")
        remove_if_empty(top)
    return removed
