"""The zygote: children forked from one preloaded process, with the same budgets.

Workers are handed the zygote's address explicitly (``Worker(zygote=...)``)."""
from __future__ import annotations

import os
import time

import pytest

from transforms.sandbox import zygote
from transforms.sandbox.worker import BudgetExceeded, Worker


@pytest.fixture()
def served():
    with zygote.serve([("tests.zygote_targets:preload", ("ready",))]) as address:
        yield address


def _worker(address: str | None, target: str = "tests.zygote_targets:whoami") -> Worker:
    return Worker(target, what="test call", option="--test_timeout", zygote=address)


def test_children_are_forked_from_the_preloaded_zygote(served):
    first, second = _worker(served), _worker(served)
    try:
        a = first.call(timeout=30)
        b = second.call(timeout=30)
    finally:
        first.close()
        second.close()
    assert a["preloaded"] == ["ready"] == b["preloaded"]  # preload ran once, before the fork
    assert a["parent"] == b["parent"] != os.getpid()     # children of the zygote, not ours
    assert a["pid"] != b["pid"]
    with open(f"/proc/{a['parent']}/cmdline", "rb") as f:
        assert b"transforms.sandbox.zygote" in f.read()


def test_a_forked_child_over_budget_is_killed_and_replaced(served):
    worker = _worker(served, "tests.zygote_targets:sleep")
    try:
        assert worker.call(0, timeout=30) == "slept"
        pid = worker.proc.pid
        with pytest.raises(BudgetExceeded):
            worker.call(30, timeout=1)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)  # the zygote reaps it
        assert not os.path.exists(f"/proc/{pid}")
        assert worker.call(0, timeout=30) == "slept"  # a fresh fork
        assert worker.proc.pid != pid
    finally:
        worker.close()


def test_a_forked_child_ends_when_its_client_closes_it(served):
    worker = _worker(served)
    pid = worker.call(timeout=30)["pid"]
    proc = worker.proc
    worker.close()
    assert proc.poll() is not None
    assert not os.path.exists(f"/proc/{pid}")  # ended, and reaped by the zygote


def test_without_an_answering_zygote_children_start_from_scratch(tmp_path):
    worker = _worker(str(tmp_path / "no-such-socket"))
    try:
        me = worker.call(timeout=60)
    finally:
        worker.close()
    assert me["parent"] == os.getpid() and me["preloaded"] == []


def test_the_zygote_goes_away_with_its_launcher():
    with zygote.serve([("tests.zygote_targets:preload", ("x",))]) as address:
        assert zygote.address() == address
        worker = _worker(address)
        zygote_pid = worker.call(timeout=30)["parent"]
        worker.close()
    assert zygote.address() is None and not os.path.exists(address)
    assert not os.path.exists(f"/proc/{zygote_pid}")


def test_an_early_zygote_is_handed_its_preloads_or_stopped():
    """``python -m pipeline`` starts the zygote before importing Beam; ``serve``
    then uses that one (no second process) or, with nothing to preload, stops it."""
    zygote.start_early(("json",))
    early = zygote._early[0]
    with zygote.serve([("tests.zygote_targets:preload", ("late",))]) as address:
        worker = _worker(address)
        me = worker.call(timeout=30)
        worker.close()
    assert me["parent"] == early.pid and me["preloaded"] == ["late"]
    zygote.start_early(("json",))
    early = zygote._early[0]
    with zygote.serve([]) as address:
        assert address is None and zygote.address() is None
        assert early.wait(timeout=10) is not None


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))


def test_a_child_is_forked_by_the_first_stage_that_preloaded_its_module(tmp_path):
    """Each preload is a stage: a child whose target's module the first stage
    preloaded is forked there without waiting for the later stages (trafilatura
    children need not wait for the spaCy model); the others by the last stage."""
    gate = tmp_path / "gate"
    preloads = [("tests.zygote_targets:preload", ("first",)),
                ("tests.zygote_late:preload", (str(gate),))]
    with zygote.serve(preloads) as address:
        early, late = _worker(address), _worker(address, "tests.zygote_late:whoami")
        try:
            a = early.call(timeout=30)  # the second stage still waits at its gate
            assert not gate.exists()
            gate.touch()
            b = late.call(timeout=30)
            assert a["preloaded"] == ["first"]
            assert b["preloaded"] == ["first", "late"]
            assert b["parent"] != a["parent"]
            assert _parent_of(b["parent"]) == a["parent"]  # the second stage, forked by the first
            second_stage = b["parent"]
        finally:
            early.close()
            late.close()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{second_stage}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{second_stage}")  # it went with the first
