"""The same inputs through FnApiRunner (multi_processing, 2 workers), Prism and a Flink
session cluster give identical tables (order aside, run-time columns excluded).

Slow; select with ``-m runners``. Inputs: ``samples/`` or env NEWS_EQUIVALENCE_INPUT, plus
invented syndicated pages (``tests.story_fixtures``) so that ``stories`` holds a story
of several articles.
Prints row counts per table and runner, and seconds per runner (also written to
.cache/equivalence-report.json).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import TABLES
from scripts.compare_outputs import Tables, diff_tables, load_tables, row_counts
from tests.runner_env import REPO, flink_args, flink_cluster, prism_args
from tests.story_fixtures import write_syndicated

pytestmark = pytest.mark.runners

INPUT = os.environ.get("NEWS_EQUIVALENCE_INPUT", str(REPO / "samples"))
REPORT_FILE = REPO / ".cache" / "equivalence-report.json"
DIRECT_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]

Report = dict[str, tuple[float, dict[str, int]]]


@pytest.fixture(scope="module")
def story_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("story-pages")
    write_syndicated(folder)
    return folder


def run_pipeline(output: Path, beam_args: list[str], extra_input: Path) -> float:
    """``python -m pipeline`` in a subprocess; returns its wall-clock seconds."""
    argv = [sys.executable, "-m", "pipeline", "--input", INPUT, "--input", str(extra_input),
            "--output", str(output), *beam_args]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return seconds


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Iterator[Report]:
    results: Report = {}
    yield results
    runners = list(results)
    lines = [f"equivalence on {INPUT}: rows per table and runner",
             f"{'table':12s}" + "".join(f"{r:>15s}" for r in runners)]
    lines += [f"{t:12s}" + "".join(f"{results[r][1].get(t, 0):15d}" for r in runners) for t in TABLES]
    lines.append(f"{'seconds':12s}" + "".join(f"{results[r][0]:15.1f}" for r in runners))
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(json.dumps({"input": INPUT, "runners": {
        r: {"seconds": round(sec, 1), "rows": rows} for r, (sec, rows) in results.items()}}, indent=1))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, report: Report, story_pages: Path) -> Tables:
    out = tmp_path_factory.mktemp("direct")
    seconds = run_pipeline(out, DIRECT_ARGS, story_pages)
    tables = load_tables(out)
    report["direct"] = (seconds, row_counts(tables))
    return tables


@pytest.fixture(scope="module")
def flink() -> Iterator[None]:
    with flink_cluster():
        yield


def test_baseline_fills_every_table(baseline: Tables) -> None:
    """An equivalence of empty outputs would prove nothing."""
    assert {t: len(baseline.get(t, [])) > 0 for t in TABLES} == {t: True for t in TABLES}


def test_baseline_has_a_story_of_several_articles(baseline: Tables) -> None:
    """So that the runners are compared on clustering, not only on stories of one."""
    assert max(len(row[1]) for row in baseline["stories"]) == 3


@pytest.mark.parametrize("runner", ["prism", "flink-loopback", "flink-process"])
def test_runner_matches_direct(runner: str, baseline: Tables, report: Report, story_pages: Path,
                               tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """flink-process: the TaskManager starts the SDK workers, which install the code
    shipped with --setup_file; flink-loopback: workers run in the submitting process."""
    if runner.startswith("flink"):
        request.getfixturevalue("flink")
        environment = runner.split("-", 1)[1]
        args = flink_args(environment) + ["--parallelism=2"]
        if environment == "process":
            args.append(f"--setup_file={REPO / 'setup.py'}")
    else:
        args = prism_args()
    seconds = run_pipeline(tmp_path, args, story_pages)
    tables = load_tables(tmp_path)
    report[runner] = (seconds, row_counts(tables))
    assert diff_tables(baseline, tables) == {}
