"""SDK workers forked from the worker zygote (``pipeline.worker_fork``): real
processes, Beam's own worker main, the launcher's view of them as ``Popen``s."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time

import psutil
import pytest

from pipeline import worker_fork
from scripts.compare_outputs import diff_tables, load_tables
from tests.conftest import REPO

MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture
def zygote():
    worker_fork.start_early()
    yield worker_fork.address()
    worker_fork.stop()


def test_only_multi_processing_runs_start_one():
    assert worker_fork.wanted(["--input", "x", "--direct_running_mode=multi_processing"])
    assert not worker_fork.wanted(["--input", "x"])
    assert not worker_fork.wanted(["--direct_running_mode=multi_processing", "--no_zygote"])


def test_a_worker_that_fails_reports_its_exit_code_and_error(zygote):
    env = {k: v for k, v in os.environ.items() if "SERVICE_DESCRIPTOR" not in k}
    read_fd, write_fd = os.pipe()
    proc = worker_fork.spawn(env, write_fd)
    os.close(write_fd)
    assert proc is not None and proc.pid != os.getpid()
    assert proc.wait(timeout=60) == 1  # no control service to talk to: Beam's main fails
    with os.fdopen(read_fd, "rb") as err:
        assert b"CONTROL_API_SERVICE_DESCRIPTOR" in err.read()
    assert proc.poll() == 1


def test_a_killed_worker_reports_the_signal(zygote):
    env = {**os.environ, "CONTROL_API_SERVICE_DESCRIPTOR": 'url: "localhost:9"',
           "PIPELINE_OPTIONS": "{}"}  # a port nobody serves: the worker keeps trying
    proc = worker_fork.spawn(env, os.open(os.devnull, os.O_WRONLY))
    assert proc is not None
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1)
    assert os.getpgid(proc.pid) == proc.pid  # a group of its own (pipeline.interrupts)
    proc.kill()
    assert proc.wait(timeout=30) == -9


def _waiting_worker() -> worker_fork.ForkedWorker:
    """A forked worker that keeps trying a port nobody serves."""
    env = {**os.environ, "CONTROL_API_SERVICE_DESCRIPTOR": 'url: "localhost:9"',
           "PIPELINE_OPTIONS": "{}"}
    proc = worker_fork.spawn(env, os.open(os.devnull, os.O_WRONLY))
    assert proc is not None
    return proc


def test_a_running_worker_outlives_its_zygote(zygote):
    proc = _waiting_worker()
    worker_fork.stop()  # the zygote ends: no new forks, the running worker goes on
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=2)
    proc.kill()
    assert proc.wait(timeout=30) == -9


def test_a_worker_whose_launcher_lets_go_of_it_is_killed(zygote):
    proc = _waiting_worker()
    worker = psutil.Process(proc.pid)
    proc._conn.close()  # as when the launcher dies: its end of the connection closes
    worker.wait(timeout=30)  # psutil.TimeoutExpired if it lives on
    assert not worker.is_running()


def test_no_zygote_no_fork():
    assert worker_fork.address() is None
    assert worker_fork.spawn(dict(os.environ)) is None


def _run(out, *args) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The pipeline on the samples; the command lines and the names of its process
    tree, as seen."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--input", str(REPO / "samples"),
                             "--output", str(out), "--no_nlp", "--progress_seconds", "0",
                             *MULTI, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()

    def watch():
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            with_children = []
            try:
                with_children = root.children(recursive=True)
            except psutil.Error:
                pass
            for child in with_children:
                try:
                    seen.update((" ".join(child.cmdline()), child.name()))
                except psutil.Error:
                    pass
            time.sleep(0.02)
    watcher = threading.Thread(target=watch)
    watcher.start()
    stdout, stderr = proc.communicate(timeout=600)
    watcher.join()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), seen


def test_a_multi_processing_run_forks_its_workers_and_writes_the_same_tables(tmp_path):
    forked, seen = _run(tmp_path / "forked")
    assert forked.returncode == 0, forked.stderr
    assert not any("sdk_worker_main" in cmd for cmd in seen)
    assert "news-workers" in seen  # the worker zygote: a fork of the launcher
    assert not any("pipeline.worker_fork" in cmd for cmd in seen)  # no fresh interpreter
    scratch, seen_scratch = _run(tmp_path / "scratch", "--no_zygote")
    assert scratch.returncode == 0, scratch.stderr
    assert any("sdk_worker_main" in cmd for cmd in seen_scratch)
    assert diff_tables(load_tables(tmp_path / "forked"), load_tables(tmp_path / "scratch")) == {}


def test_a_launcher_killed_as_its_workers_start_takes_them_with_it(tmp_path):
    """The moment an SDK worker exists, before it reaches the launcher: killed
    then, workers used to wait for the dead launcher forever."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--input", str(REPO / "samples"),
                             "--output", str(tmp_path / "out"), "--progress_seconds", "0",
                             *MULTI], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(tmp)})
    root, tree, worker = psutil.Process(proc.pid), {}, None
    deadline = time.monotonic() + 120
    while worker is None and time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            for child in root.children(recursive=True):
                tree.setdefault(child.pid, child)
                with contextlib.suppress(OSError):
                    if os.getpgid(child.pid) == child.pid:  # an SDK worker: a group of its own
                        worker = child
        time.sleep(0.005)
    assert worker is not None and proc.poll() is None, "no SDK worker seen while the run ran"
    assert tree[worker.pid].name() == "news-workers"  # forked by the worker zygote
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(list(tree.values()), timeout=30)
    assert alive == [], [(p.pid, p.name()) for p in alive]
    # The zygotes' sockets and their folders go with them.
    assert [p.name for p in tmp.iterdir() if p.name.startswith("news-")] == []


def test_a_workers_stderr_reaches_the_launcher_whole_lines_only():
    """Its log lines dropped; the last line of a worker killed mid-line ended, so the
    launcher's own last line ("interrupted; ...") starts a line of its own."""
    import io

    from pipeline.interrupts import _forward

    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"[progress] annotated 3\nINFO:root:noise\n[progress] annot")
    os.close(write_fd)
    sink = io.BytesIO()
    _forward(os.fdopen(read_fd, "rb"), sink)
    assert sink.getvalue() == b"[progress] annotated 3\n[progress] annot\n"
