"""A word count on real portable runners: Prism (Go) and a Flink session cluster.

Slow (builds Prism, fetches/starts Flink on first use); select with ``-m runners``.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.smoke_runner import EXPECTED, run_smoke
from tests.runner_env import flink_args, flink_cluster, flink_jobs, prism_args

pytestmark = pytest.mark.runners


@pytest.fixture(scope="module")
def flink() -> Iterator[None]:
    with flink_cluster():
        yield


@pytest.mark.parametrize("extra", [[], ["--environment_type=LOOPBACK"]], ids=["default", "loopback"])
def test_prism_word_count(tmp_path: Path, extra: list[str]) -> None:
    counts, _ = run_smoke(str(tmp_path), prism_args() + extra)
    assert counts == EXPECTED


@pytest.mark.parametrize("environment", ["loopback", "process"])
def test_flink_session_cluster_word_count(flink: None, tmp_path: Path, environment: str) -> None:
    """Runs with parallelism 2 on the cluster's TaskManager and finishes there as a job."""
    def states() -> dict[str, int]:
        return {s: sum(j["state"] == s for j in flink_jobs()) for s in ("FINISHED", "FAILED")}

    before = states()
    counts, _ = run_smoke(str(tmp_path), flink_args(environment) + ["--parallelism=2"])
    assert counts == EXPECTED
    assert states() == {"FINISHED": before["FINISHED"] + 1, "FAILED": before["FAILED"]}
