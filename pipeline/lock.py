"""One writer at a time: an exclusive lock on a dataset for the length of a run.

Local datasets: ``OUTPUT/_lock`` held with ``fcntl.flock``. The kernel releases it
when the holding process dies, however it dies, so a lock left by a dead run is
never in the way; the file keeps the last holder's record (run id, host, pid,
start) for the message a second run prints.

Object stores (``gs://``, ``s3://``) have no lock Beam's ``FileSystems`` can take
atomically: there ``_lock`` is an advisory record, created when absent and
removed at the end. A second run that finds it refuses (or waits) and names
the holder; one left by a dead run on this host (its pid is gone) is broken,
one from another host only by ``--break_lock``. Give a scheduler writing to an
object store a concurrency limit of one per dataset.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time

from apache_beam.io.filesystems import FileSystems

from pipeline.dataset import is_local, join, write_json
from schemas.layout import LOCK


class LockBusy(Exception):
    """Another run holds the dataset; the message names it."""


def _holder_record(run_id: str) -> dict:
    return {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(),
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def describe(record: dict | None) -> str:
    if not record:
        return "another run (no holder record)"
    return (f"run {record.get('run_id')} (host {record.get('host')}, pid {record.get('pid')}, "
            f"started {record.get('started')})")


def _read(path: str) -> dict | None:
    try:
        with FileSystems.open(path) as f:
            return json.loads(f.read().decode("utf-8") or "null")
    except Exception:  # absent, empty or being rewritten
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DatasetLock:
    """``with DatasetLock(output, run_id, wait_seconds):`` holds the dataset."""

    def __init__(self, output: str, run_id: str, wait_seconds: float = 0.0,
                 break_lock: bool = False, poll_seconds: float = 0.5):
        self.path = join(output, LOCK)
        self.run_id, self.wait, self.poll = run_id, wait_seconds, poll_seconds
        self.break_lock = break_lock
        self._fd: int | None = None

    # -- local: flock
    def _try_local(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_holder_record(self.run_id)).encode())
        os.fsync(fd)
        self._fd = fd
        return True

    # -- object stores: an advisory record
    def _stale(self, record: dict | None) -> bool:
        if record is None or self.break_lock:
            return True
        same_host = record.get("host") == socket.gethostname()
        return same_host and not _pid_alive(int(record.get("pid") or 0))

    def _try_remote(self) -> bool:
        if FileSystems.exists(self.path) and not self._stale(_read(self.path)):
            return False
        write_json(self.path, json.dumps(_holder_record(self.run_id)).encode())
        return True

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True) if is_local(self.path) else None
        attempt = self._try_local if is_local(self.path) else self._try_remote
        deadline = time.monotonic() + self.wait
        while not attempt():
            if time.monotonic() >= deadline:
                waited = f" after waiting {self.wait:g} s" if self.wait else ""
                raise LockBusy(f"the dataset is being written by {describe(_read(self.path))}"
                               f"{waited}; try again later, or pass --wait_for_lock SECONDS")
            time.sleep(self.poll)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
        elif not is_local(self.path) and FileSystems.exists(self.path):
            record = _read(self.path)
            if record and record.get("run_id") == self.run_id:
                FileSystems.delete([self.path])

    def __enter__(self) -> "DatasetLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
