"""Streaming from Kafka: messages to documents, offsets committed after their window is
written, bad usage; end to end with a real broker (scripts/kafka.sh) and the real Flink
cluster (scripts/flink.sh), including a job killed mid-window and started again."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, SAMPLES, read_table
from tests.runner_env import kill_group
from tests.hostile_corpus import english_paragraphs, page
from transforms.formats.document import Document
from transforms.formats.message import key_url, message_document, message_source, parse_source
from transforms.formats.records import BadRecord, TooLarge
from transforms.kafka import advance, known_sources

# --- messages to documents (no Beam) ------------------------------------------------------

SRC = message_source("pages", 1, 42)


def test_a_message_source_names_topic_partition_offset():
    assert SRC == "kafka://pages/1/42"
    assert parse_source(SRC) == ("pages", 1, 42)
    assert parse_source("/in/page.html") is None and parse_source("kafka://t/x/1") is None


def test_raw_html_and_json_values_become_the_documents_files_would():
    html = b"<html><body><p>Hello</p></body></html>"
    assert message_document(SRC, None, html, 1000) == Document(
        source=SRC, input_format="html", raw=html)
    record = json.dumps({"html": "<p>x</p>", "url": "https://a.example/1", "title": "T",
                         "published": "2026-03-01"}).encode()
    assert message_document(SRC, b"id-7", b"\xef\xbb\xbf \n" + record, 1000) == Document(
        source=SRC, input_format="jsonl", html="<p>x</p>",
        url="https://a.example/1", title="T", published="2026-03-01")
    text = message_document(SRC, b"https://b.example/2", b'{"text": "Plain words."}', 1000)
    assert text == Document(source=SRC, input_format="jsonl", text="Plain words.",
                            url="https://b.example/2")  # the key names the page


def test_a_key_is_a_url_only_when_it_is_one():
    assert key_url(b"https://a.example/x") == "https://a.example/x"
    assert key_url(b"id-7") is None and key_url(b"\xff\xfe") is None and key_url(None) is None


@pytest.mark.parametrize("value, error", [
    (b"", "EmptyMessage"), (None, "EmptyMessage"),
    (b"<p>" + b"x" * 2000, "TooLarge"),
    (b"{not json", "BadRecord"), (b'{"title": "no page"}', "BadRecord"),
    (b'{"html": 5}', "BadRecord"),
])
def test_bad_values_raise_their_error(value, error):
    with pytest.raises((BadRecord, TooLarge)) as raised:
        message_document(SRC, None, value, 1000)
    assert raised.value.code == error


# --- which offsets may be committed -------------------------------------------------------

def test_the_committed_offset_is_the_end_of_the_written_run():
    ahead: set[int] = set()
    done = 10  # the run started at offset 10
    done = advance(done, ahead, {12, 14})  # a later window written first: no commit
    assert (done, ahead) == (10, {12, 14})
    done = advance(done, ahead, [10])
    assert (done, ahead) == (11, {12, 14})
    done = advance(done, ahead, [11, 13])
    assert (done, ahead) == (15, set())
    assert advance(done, ahead, [5]) == 15 and ahead == set()  # before the start: ignored


def test_known_sources_are_those_a_restart_reads_again():
    sources = ["kafka://t/0/3", "kafka://t/0/9", "kafka://t/1/0", "kafka://u/0/9",
               "/in/page.html", None]
    assert known_sources(sources, "t", {"t/0": 5, "t/1": 0}) == {"kafka://t/0/9",
                                                                  "kafka://t/1/0"}


# --- bad usage: one line, exit 2, nothing touched -----------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["--kafka_topic", "pages"], "--kafka_topic needs --kafka_bootstrap_servers HOST:PORT"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092"],
     "--kafka_bootstrap_servers needs --kafka_topic TOPIC"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092", "--kafka_topic", "pages"],
     "the in-process runner (no --runner) cannot run Beam's Kafka connector"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092", "--kafka_topic", "pages",
      "--runner", "DirectRunner"], "--runner=DirectRunner cannot run Beam's Kafka connector"),
    (["--kafka_bootstrap_servers", "localhost", "--kafka_topic", "pages",
      "--runner", "PortableRunner"], "'localhost' is not HOST:PORT"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092", "--kafka_topic", "a/b",
      "--runner", "PortableRunner"], "'a/b' is not a Kafka topic name"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092", "--kafka_topic", "pages",
      "--watch", "/tmp", "--runner", "PortableRunner"], "two inputs"),
    (["--kafka_expansion_service", "localhost:1"], "--kafka_expansion_service needs"),
    (["--kafka_bootstrap_servers", "127.0.0.1:9092", "--kafka_topic", "pages",
      "--stop_after_seconds", "5", "--runner", "PortableRunner"], "is for --watch"),
])
def test_bad_kafka_usage_is_one_line_and_exit_2(tmp_path: Path, args, expected):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "pipeline", *args, "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not out.exists()


# --- end to end: the real broker, the real Flink cluster ----------------------------------

@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    from tests.runner_env import kafka_broker

    with kafka_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def flink() -> Iterator[list[str]]:
    from tests.runner_env import flink_args, flink_cluster, flink_expansion_service

    with flink_cluster():
        yield flink_args("loopback") + ["--kafka_expansion_service", flink_expansion_service()]


def _page(i: int) -> bytes:
    return page(f"Council plan number {i}", english_paragraphs(i)).encode()


def hostile_messages() -> list[tuple[bytes | None, bytes | None, str]]:
    """Ten messages that are no page: (key, value, the error row's code)."""
    nav = (SAMPLES / "bad" / "navigation-only.html").read_bytes()
    return [(None, b"", "EmptyMessage"), (b"tombstone", None, "EmptyMessage"),
            (None, bytes(range(256)) * 64, "NotText"),
            (None, b"<html><body><p>" + b"big " * (50 << 18) + b"</p></body></html>",
             "TooLarge"),  # 50 MB, over the 20 MB --max_document_bytes
            (None, b'{"html": "<p>cut', "BadRecord"), (None, b"{}", "BadRecord"),
            (None, b'{"text": 12, "url": "https://a.example/"}', "BadRecord"),
            (None, b" \r\n\t ", "NoMainText"), (b"https://nav.example/", nav, "NoMainText"),
            (None, b'["a", "JSON", "array"]', "NoMainText")]


class Producer:
    """A real Kafka producer (confluent-kafka); remembers each message's source and when it
    was acknowledged."""

    def __init__(self, bootstrap: str, topic: str):
        from confluent_kafka import Producer as KafkaProducer

        self.topic = topic
        self._producer = KafkaProducer({"bootstrap.servers": bootstrap,
                                        "message.max.bytes": 62914560, "linger.ms": 5})
        self.acked: dict[str, float] = {}  # source -> time acknowledged (monotonic)
        self.failed: list[str] = []

    def send(self, messages: list[tuple[bytes | None, bytes | None]]) -> list[str]:
        """Produce the messages; their sources, in the order given."""
        sources: list[str | None] = [None] * len(messages)

        def delivered(i: int, err, msg) -> None:
            if err is not None:
                self.failed.append(str(err))
                return
            sources[i] = message_source(msg.topic(), msg.partition(), msg.offset())
            self.acked[sources[i]] = time.monotonic()

        for i, (key, value) in enumerate(messages):
            self._producer.produce(self.topic, key=key, value=value,
                                   on_delivery=lambda err, msg, i=i: delivered(i, err, msg))
            self._producer.poll(0)
        assert self._producer.flush(120) == 0 and not self.failed, self.failed
        return sources


class FileWatcher(threading.Thread):
    """When each Parquet file of the accounting tables first appears (monotonic)."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.stop = out, threading.Event()
        self.first_seen: dict[Path, float] = {}

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for table in ("articles", "duplicates", "errors"):
                for path in (self.out / table).glob("**/*.parquet"):
                    self.first_seen.setdefault(path, time.monotonic())


def _accounted(out: Path) -> dict[str, list[str]]:
    """Source -> the tables it appears in (errors rows of kept articles left out)."""
    seen: dict[str, list[str]] = {}
    for table in ("articles", "duplicates", "errors"):
        if not list((out / table).glob("**/*.parquet")):
            continue
        for row in read_table(out, table):
            if table != "errors" or row["article_id"] is None:
                seen.setdefault(row["source"], []).append(table)
    return seen


def _start(out: Path, bootstrap: str, topic: str, group: str, flink: list[str], log: Path,
           *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "pipeline", "--kafka_bootstrap_servers", bootstrap,
            "--kafka_topic", topic, "--kafka_group_id", group, "--output", str(out),
            "--window_seconds", "5", *extra, *flink]
    with open(log, "a") as log_file:
        return subprocess.Popen(argv, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait_until(what: str, done, proc: subprocess.Popen, log: Path, limit: float = 600) -> None:
    """Poll ``done()`` until true (bounded; fails if the job exits first)."""
    end = time.monotonic() + limit
    while not done():
        if proc.poll() is not None:
            pytest.fail(f"job exited {proc.returncode} before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > end:
            pytest.fail(f"not {what} within {limit}s:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def _all_accounted(sources: list[str], out: Path):
    return lambda: set(sources) <= set(_accounted(out))


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)  # cancel, as an operator would
    try:
        return proc.wait(timeout=120)
    finally:
        kill_group(proc)


def _written_committed_stopped(what: str, sources: list[str], out: Path, broker: str,
                               topic: str, group: str, proc: subprocess.Popen,
                               log: Path) -> tuple[int, dict[str, int]]:
    """Wait until ``sources`` are all written (``what``), then until the group has
    committed every offset the topic holds, then stop the job: its exit code and the
    topic's end offsets."""
    _wait_until(what, _all_accounted(sources, out), proc, log)
    ends = _ends(broker, topic)
    _wait_until("offsets committed", lambda: _committed(broker, topic, group) == ends,
                proc, log)
    return _stop(proc), ends


def _summary(log: Path) -> dict:
    lines = [line for line in log.read_text().splitlines() if line.startswith('{"run_id"')]
    return json.loads(lines[-1])


def _committed(bootstrap: str, topic: str, group: str) -> dict[str, int]:
    from transforms.kafka import start_offsets

    return start_offsets(bootstrap, topic, group)


def _ends(bootstrap: str, topic: str) -> dict[str, int]:
    """Per partition, the offset the next message gets (the high watermark)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe-ends"})
    try:
        parts = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        return {f"{topic}/{p}": consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=15)[1] for p in parts}
    finally:
        consumer.close()


WINDOW = re.compile(r"-(\d{8}T\d{6}Z)-(\d{8}T\d{6}Z)-\d{5}-of-\d{5}\.parquet$")


@pytest.mark.runners
def test_kafka_stream_on_flink_accounts_for_every_message_once(broker, flink, tmp_path: Path):
    from tests.runner_env import kafka_topic

    topic = kafka_topic(f"pages-{uuid.uuid4().hex[:8]}")
    group, out, log = "news-test", tmp_path / "out", tmp_path / "job.log"
    producer = Producer(broker, topic)
    watcher = FileWatcher(out)
    watcher.start()
    proc = _start(out, broker, topic, group, flink, log)
    try:
        _wait_until("launched", lambda: "streaming run" in log.read_text(), proc, log)
        # Window 1: 20 pages (one of them twice). Window 2 on: 10 new pages, copies of two
        # pages of window 1, and ten hostile messages.
        batch1 = producer.send([(f"https://news.example/{i}".encode(), _page(i))
                                for i in range(20)] + [(None, _page(3))])
        _wait_until("batch 1 written", _all_accounted(batch1, out), proc, log)
        hostile = hostile_messages()
        batch2 = producer.send([(None, _page(i)) for i in range(20, 30)]
                               + [(None, _page(0)), (None, _page(7))]
                               + [(key, value) for key, value, _ in hostile])
        code, ends = _written_committed_stopped("batch 2 written", batch2, out, broker,
                                                topic, group, proc, log)
    finally:
        kill_group(proc)
        watcher.stop.set()
        watcher.join()
    assert code == 0, log.read_text()[-3000:]

    produced = batch1 + batch2
    accounted = _accounted(out)
    assert {s: len(t) for s, t in accounted.items()} == {s: 1 for s in produced}
    articles = {a["source"]: a for a in read_table(out, "articles")}
    assert len(articles) == 30 == len({a["content_hash"] for a in articles.values()})
    assert {a["nlp_status"] for a in articles.values()} == {"ok"}
    assert {e["article_id"] for e in read_table(out, "entities")} >= {
        a["article_id"] for a in articles.values()}
    assert [articles[batch1[i]]["url"] for i in range(20) if i != 3] == [
        f"https://news.example/{i}" for i in range(20) if i != 3]  # the key names the page
    duplicates = {d["source"]: d for d in read_table(out, "duplicates")}
    # Page 3 twice in window 1 (the smaller source is kept); pages 0 and 7 again later.
    assert set(duplicates) == {max(batch1[3], batch1[20]), batch2[10], batch2[11]}
    assert {duplicates[batch2[10]]["duplicate_of_source"],
            duplicates[batch2[11]]["duplicate_of_source"]} == {batch1[0], batch1[7]}
    for dup in duplicates.values():
        assert articles[dup["duplicate_of_source"]]["article_id"] == dup["duplicate_of"]
    errors = {e["source"]: e for e in read_table(out, "errors") if e["article_id"] is None}
    assert {s: errors[s]["error"] for s in batch2[12:]} == {
        s: code for s, (_, _, code) in zip(batch2[12:], hostile)}
    # Two windows at least; the consumer group committed every offset once written.
    windows = {WINDOW.search(p.name).group(1) for p in watcher.first_seen}
    assert len(windows) >= 2
    summary = _summary(log)
    assert summary["kafka"]["committed"] == ends
    assert sum(ends.values()) == len(produced)

    # Latency: message acknowledged by the broker -> its window's file appears.
    file_of = {}
    for path, seen in watcher.first_seen.items():
        for source in pq.read_table(path, columns=["source"]).column("source").to_pylist():
            file_of.setdefault(source, seen)
    latency = sorted(file_of[s] - producer.acked[s] for s in produced)

    def rate(batch: list[str]) -> str:  # messages/s, first acknowledged -> last one written
        seconds = max(file_of[s] for s in batch) - min(producer.acked[s] for s in batch)
        return f"{len(batch) / seconds:.1f} msg/s over {seconds:.0f}s"

    print(f"\nkafka on flink: {len(produced)} messages ({len(batch1)} + {len(batch2)}), rows "
          f"{ {t: len(read_table(out, t)) for t in ('articles', 'duplicates', 'errors')} }, "
          f"{len(windows)} windows, errors {Counter(e['error'] for e in errors.values())}; "
          f"latency produced->file median {latency[len(latency) // 2]:.1f}s, "
          f"max {latency[-1]:.1f}s (5 s windows); batch 1 {rate(batch1)}, batch 2 "
          f"{rate(batch2)}; committed {summary['kafka']['committed']}")


@pytest.mark.runners
def test_kafka_job_killed_mid_window_and_restarted_loses_and_doubles_nothing(
        broker, flink, tmp_path: Path):
    from tests.runner_env import cancel_flink_jobs, kafka_topic

    topic = kafka_topic(f"restart-{uuid.uuid4().hex[:8]}")
    group, out, log = "news-restart", tmp_path / "out", tmp_path / "job.log"
    producer = Producer(broker, topic)
    proc = _start(out, broker, topic, group, flink, log, "--no_nlp")
    try:
        _wait_until("launched", lambda: "streaming run" in log.read_text(), proc, log)
        batch_a = producer.send([(None, _page(100 + i)) for i in range(30)])
        _wait_until("batch A written", _all_accounted(batch_a, out), proc, log)
        ends_a = _ends(broker, topic)
        _wait_until("batch A committed", lambda: _committed(broker, topic, group) == ends_a,
                    proc, log)
        # Batch B goes out in two halves; the job is killed once the first half is being
        # written, so messages wait in open windows (and some windows may be written).
        batch_b = producer.send([(None, _page(200 + i)) for i in range(15)])
        _wait_until("batch B started", lambda: bool(set(batch_b) & set(_accounted(out))),
                    proc, log)
        batch_b += producer.send([(None, _page(215 + i)) for i in range(15)])
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its (LOOPBACK) SDK workers
        proc.wait()
        cancelled = cancel_flink_jobs()
    finally:
        kill_group(proc)
    written_at_kill = set(_accounted(out))
    committed_at_kill = _committed(broker, topic, group)
    # Nothing was committed that is not written: every offset below the committed one is.
    for key, offset in committed_at_kill.items():
        partition = int(key.rsplit("/", 1)[1])
        assert {message_source(topic, partition, o) for o in range(offset)} <= written_at_kill
    lost_in_kill = set(batch_b) - written_at_kill

    # After the restart: new pages, and copies of two pages the dataset already holds.
    batch_c = producer.send([(None, _page(300 + i)) for i in range(10)]
                            + [(None, _page(100)), (None, _page(129))])
    log2 = tmp_path / "job2.log"
    proc = _start(out, broker, topic, group, flink, log2, "--no_nlp")
    try:
        everything = batch_a + batch_b + batch_c
        code, ends = _written_committed_stopped("all written after the restart", everything,
                                                out, broker, topic, group, proc, log2)
    finally:
        kill_group(proc)
    assert code == 0, log2.read_text()[-3000:]
    accounted = _accounted(out)
    assert {s: len(t) for s, t in accounted.items()} == {s: 1 for s in everything}
    articles = read_table(out, "articles")
    assert len(articles) == len(everything) - 2 == len({a["content_hash"] for a in articles})
    duplicates = {d["source"]: d["duplicate_of_source"] for d in read_table(out, "duplicates")}
    assert duplicates == {batch_c[10]: batch_a[0], batch_c[11]: batch_a[29]}
    summary = _summary(log2)
    assert summary["kafka"]["started_at"] == committed_at_kill
    assert summary["kafka"]["committed"] == ends
    reread = sum(ends.values()) - len(batch_c) - sum(committed_at_kill.values())
    print(f"\nkafka restart: {len(batch_a)} + {len(batch_b)} messages, then killed (Flink jobs "
          f"cancelled: {len(cancelled)}) with {len(lost_in_kill)} not yet written; committed "
          f"{committed_at_kill}; restart re-read {reread} messages, of which "
          f"{summary['kafka']['already_written']} were already written (dropped by source); "
          f"+{len(batch_c)} new (2 copies of stored pages: duplicates); dataset: "
          f"{len(articles)} articles + {len(duplicates)} duplicates for {len(everything)} "
          f"messages, each once")
