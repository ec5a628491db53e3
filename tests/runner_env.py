"""Real Beam runners for tests: Prism built from the Go proxy, Flink via scripts/flink.sh.

Independent of conftest.py. Skips (or fails when REQUIRE_RUNNERS=1) when a tool is missing.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"


def require_tools(*tools: str) -> None:
    """Skip the test when a tool is not on PATH; fail instead when REQUIRE_RUNNERS=1."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"runner tests need {', '.join(missing)} on PATH"
        if os.environ.get("REQUIRE_RUNNERS") == "1":
            pytest.fail(msg + " (REQUIRE_RUNNERS=1)")
        pytest.skip(msg)


def _script(*argv: str, timeout: int) -> str:
    """Run a repo script; return its stdout, failing the test with its stderr tail on error."""
    proc = subprocess.run([str(a) for a in argv], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{argv[0]} {' '.join(argv[1:])} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def prism_binary() -> str:
    """Build (or reuse) Prism; return the binary's path."""
    require_tools("go")
    return _script(SCRIPTS / "build_prism.sh", timeout=900).strip().splitlines()[-1]


def prism_args() -> list[str]:
    return ["--runner=PrismRunner", f"--prism_location={prism_binary()}"]


def flink_args(environment: str = "loopback") -> list[str]:
    """Pipeline args for the running Flink job server (environment: loopback|process)."""
    return _script(SCRIPTS / "flink.sh", "args", environment, timeout=60).split()


def flink_rest_port() -> int:
    env = dict(line.split("=", 1) for line in
               (REPO / ".cache/flink/run/ports.env").read_text().splitlines() if "=" in line)
    return int(env["REST_PORT"])


def flink_jobs() -> list[dict]:
    """Jobs the Flink session cluster knows about (REST /jobs/overview)."""
    url = f"http://localhost:{flink_rest_port()}/jobs/overview"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["jobs"]


_RELEASE_REGISTERED: list[str] = []


def _release(holder: str) -> None:
    subprocess.run([str(SCRIPTS / "flink.sh"), "release", holder], cwd=REPO,
                   capture_output=True, timeout=300)


@contextlib.contextmanager
def flink_cluster() -> Iterator[None]:
    """A running Flink session cluster + job server, shared by every module of this test
    process (and by concurrent test processes): this process holds one lease on it, taken
    on first use (starting the cluster if needed) and released at exit; the last lease
    released stops the cluster."""
    require_tools("java", "mvn", "go")
    holder = str(os.getpid())
    _script(SCRIPTS / "flink.sh", "acquire", holder, timeout=1500)
    if holder not in _RELEASE_REGISTERED:
        _RELEASE_REGISTERED.append(holder)
        atexit.register(_release, holder)
    yield


def kill_group(proc: subprocess.Popen) -> None:
    """Kill what is left of a job we started (its process group: Python, Prism, workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def flink_expansion_service() -> str:
    """HOST:PORT of the running cluster's Java expansion service (Beam's Kafka connector)."""
    return _script(SCRIPTS / "flink.sh", "expansion", timeout=60).strip().splitlines()[-1]


def cancel_flink_jobs() -> list[str]:
    """Cancel every running job of the session cluster (REST); returns their ids."""
    cancelled = []
    for job in flink_jobs():
        if job["state"] in ("RUNNING", "CREATED", "RESTARTING"):
            url = f"http://localhost:{flink_rest_port()}/jobs/{job['jid']}?mode=cancel"
            urllib.request.urlopen(urllib.request.Request(url, method="PATCH"), timeout=30)
            cancelled.append(job["jid"])
    return cancelled


@contextlib.contextmanager
def kafka_broker() -> Iterator[str]:
    """A real single-node Kafka broker (KRaft) on loopback from scripts/kafka.sh; yields
    HOST:PORT and stops it afterwards (it also stops by itself, see the script)."""
    require_tools("java", "mvn")
    out = _script(SCRIPTS / "kafka.sh", "start", timeout=900)
    try:
        yield out.strip().splitlines()[-1].split("=", 1)[1]
    finally:
        subprocess.run([str(SCRIPTS / "kafka.sh"), "stop"], cwd=REPO, capture_output=True,
                       timeout=120)


def kafka_topic(name: str, partitions: int = 2) -> str:
    _script(SCRIPTS / "kafka.sh", "topic", name, str(partitions), timeout=120)
    return name
