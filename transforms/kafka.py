"""Kafka in, offsets out: the Beam stages of ``--kafka_topic`` (streaming).

``ReadKafkaDocuments``: Beam's Kafka connector (``apache_beam.io.kafka.ReadFromKafka``, a
cross-language transform backed by Java's KafkaIO and run in the runner's JVMs) -> one
``Document`` per message (``transforms.formats.message``), or an errors row, in fixed windows
of the time each message was read.

``CommitWrittenOffsets``: the consumer group's offsets are committed by the pipeline
itself, only once the windows holding those messages are written: each published
Parquet file of ``articles``, ``duplicates`` and ``errors`` names its messages in
``source``; per partition, the committed offset is the end of the run of offsets that
are all written, from where the run started. KafkaIO's own commit (on checkpoint) is off:
a Flink checkpoint completes while messages still wait in open windows, so a job that is
killed and started again (not restored) would skip them. A restart thus re-reads at most
the messages of unwritten windows; those already written by then (a later window written
before an earlier one) are dropped by source (``known``), so nothing is read twice into
the dataset.
"""
from __future__ import annotations

import typing

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import FixedWindows, GlobalWindows

from schemas.layout import ARTICLES, DUPLICATES, ERRORS
from transforms.errors import error_row
from transforms.formats.message import message_document, message_source, parse_source
from transforms.formats.records import STAGE

# Tables whose rows name every message once between them (see ``pipeline.summary``).
ACCOUNTING_TABLES = (ARTICLES, DUPLICATES, ERRORS)
ACCOUNTED = "accounted"  # output tag: messages already in the dataset, skipped
# Fetch sizes large enough for any message the broker accepts (the pipeline's own cap,
# --max_document_bytes, then turns an oversized page into an errors row).
_FETCH_BYTES = str(64 << 20)


def consumer_config(bootstrap_servers: str, group_id: str) -> dict[str, str]:
    """KafkaIO's consumer: no auto-commit (``CommitWrittenOffsets`` commits), the start of
    the topic for a group with no committed offset."""
    return {"bootstrap.servers": bootstrap_servers, "group.id": group_id,
            "enable.auto.commit": "false", "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": _FETCH_BYTES, "fetch.max.bytes": _FETCH_BYTES}


# KafkaIO's external configuration as Beam 2.62's Java side declares it: the Python SDK's
# ``ReadFromKafka`` (2.77) also sends fields that 2.62 has no setter for
# (dynamic_read_poll_interval_seconds, consumer_factory_fn_*), which fails the expansion.
ReadFromKafka262Schema = typing.NamedTuple(
    "ReadFromKafka262Schema",
    [("consumer_config", typing.Mapping[str, str]), ("topics", typing.List[str]),
     ("key_deserializer", str), ("value_deserializer", str),
     ("commit_offset_in_finalize", bool), ("timestamp_policy", str),
     ("consumer_polling_timeout", int), ("redistribute", bool),
     ("redistribute_num_keys", np.int32), ("allow_duplicates", bool)])


def read_from_kafka(config: dict[str, str], topics: list[str],
                    expansion_service: str | None) -> beam.PTransform:
    """Beam's Kafka connector, with metadata (topic, partition, offset, key, value as bytes,
    timestamps at read time), KafkaIO's own offset commit off."""
    from apache_beam.io.kafka import ReadFromKafka, default_io_expansion_service
    from apache_beam.transforms.external import ExternalTransform, NamedTupleBasedPayloadBuilder

    bytes_in = ReadFromKafka.byte_array_deserializer
    payload = ReadFromKafka262Schema(
        consumer_config=config, topics=topics, key_deserializer=bytes_in,
        value_deserializer=bytes_in, commit_offset_in_finalize=False,
        timestamp_policy=ReadFromKafka.processing_time_policy, consumer_polling_timeout=2,
        redistribute=False, redistribute_num_keys=np.int32(0), allow_duplicates=False)
    return ExternalTransform(ReadFromKafka.URN_WITH_METADATA,
                             NamedTupleBasedPayloadBuilder(payload),
                             expansion_service or default_io_expansion_service())


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


class MessageToDocumentFn(beam.DoFn):
    """A KafkaIO record (a Row with ``topic``, ``partition``, ``offset``, ``key``,
    ``value``) -> a ``Document``, an errors row, or (already in the dataset) an
    ``accounted`` offset."""

    def __init__(self, max_document_bytes: int, known: frozenset[str] = frozenset()):
        self.max_document_bytes, self.known = max_document_bytes, known
        self.messages = Metrics.counter(STAGE, "kafka_messages")
        self.errors = Metrics.counter(STAGE, "errors")
        self.skipped = Metrics.counter(STAGE, "kafka_messages_already_written")

    def process(self, record):
        source = message_source(record.topic, record.partition, record.offset)
        self.messages.inc()
        if source in self.known:
            self.skipped.inc()
            yield beam.pvalue.TaggedOutput(
                ACCOUNTED, (partition_key(record.topic, record.partition), [record.offset]))
            return
        try:
            yield message_document(source, record.key, record.value, self.max_document_bytes)
        except Exception as exc:
            self.errors.inc()
            yield beam.pvalue.TaggedOutput(ERRORS, error_row(source, STAGE, exc))


class ReadKafkaDocuments(beam.PTransform):
    """Pipeline start -> ``documents``, ``errors`` rows and ``accounted`` offsets (messages
    the dataset already holds), in fixed windows of the time each message was read."""

    def __init__(self, bootstrap_servers: str, topic: str, group_id: str,
                 expansion_service: str | None, window_seconds: int, max_document_bytes: int,
                 known: frozenset[str] = frozenset()):
        super().__init__()
        self.bootstrap_servers, self.topic, self.group_id = bootstrap_servers, topic, group_id
        self.expansion_service, self.window_seconds = expansion_service, window_seconds
        self.max_document_bytes, self.known = max_document_bytes, known

    def expand(self, pbegin):
        records = pbegin | "ReadFromKafka" >> read_from_kafka(
            consumer_config(self.bootstrap_servers, self.group_id), [self.topic],
            self.expansion_service)
        parsed = (records
                  | "Window" >> beam.WindowInto(FixedWindows(self.window_seconds))
                  | "Parse" >> beam.ParDo(MessageToDocumentFn(
                      self.max_document_bytes, self.known)).with_outputs(
                          ERRORS, ACCOUNTED, main="documents"))
        # Spread pages over workers (the reader's stage holds one partition each).
        return {"documents": parsed.documents | "Spread" >> beam.Reshuffle(),
                ERRORS: parsed[ERRORS], ACCOUNTED: parsed[ACCOUNTED]}


def _written_offsets(result, output: str, topic: str):
    """A published file (``fileio.FileResult``, named relative to ``output``) ->
    ``(partition key, offsets)`` of this topic's messages in its ``source`` column."""
    if result.destination not in ACCOUNTING_TABLES:
        return
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(FileSystems.join(output, result.file_name)) as f:
        sources = pq.read_table(f, columns=["source"]).column("source").to_pylist()
    offsets: dict[str, set[int]] = {}
    for source in set(sources):
        parsed = parse_source(source or "")
        if parsed and parsed[0] == topic:
            offsets.setdefault(partition_key(parsed[0], parsed[1]), set()).add(parsed[2])
    yield from offsets.items()  # one commit per file and partition, at most


def advance(done: int, ahead: set[int], offsets) -> int:
    """``offsets`` are written: the new first offset not written, from ``done`` (the old
    one); ``ahead`` holds the written offsets past the first gap (updated in place)."""
    ahead.update(o for o in offsets if o >= done)
    while done in ahead:
        ahead.remove(done)
        done += 1
    return done


class _CommitFn(beam.DoFn):
    """Per partition: the offsets written so far; commits the group's offset to the end of
    the run of written offsets from ``start`` (where the run began reading)."""

    NEXT = ReadModifyWriteStateSpec("next", PickleCoder())
    AHEAD = ReadModifyWriteStateSpec("ahead", PickleCoder())

    def __init__(self, bootstrap_servers: str, group_id: str, start: dict[str, int]):
        self.bootstrap_servers, self.group_id, self.start = bootstrap_servers, group_id, start
        self.commits = Metrics.counter("kafka", "offset_commits")
        self._consumer = None

    def setup(self):
        from confluent_kafka import Consumer

        self._consumer = Consumer({"bootstrap.servers": self.bootstrap_servers,
                                   "group.id": self.group_id, "enable.auto.commit": False})

    def process(self, keyed, next_state=beam.DoFn.StateParam(NEXT),
                ahead_state=beam.DoFn.StateParam(AHEAD)):
        key, offsets = keyed
        stored = next_state.read()
        done = self.start.get(key, 0) if stored is None else stored
        ahead = ahead_state.read() or set()
        nxt = advance(done, ahead, offsets)
        ahead_state.write(ahead)
        if nxt != done:
            next_state.write(nxt)
            self._commit(key, nxt)
            yield key, nxt

    def _commit(self, key: str, offset: int) -> None:
        from confluent_kafka import TopicPartition

        topic, partition = key.rsplit("/", 1)
        self._consumer.commit(offsets=[TopicPartition(topic, int(partition), offset)],
                              asynchronous=False)
        self.commits.inc()

    def teardown(self):
        if self._consumer is not None:
            self._consumer.close()


class CommitWrittenOffsets(beam.PTransform):
    """``fileio.FileResult`` of the published files, plus ``accounted`` offsets
    (``(partition key, [offset])``) -> the
    group's committed offsets, advanced as windows are written; outputs
    ``(partition key, committed offset)`` per commit."""

    def __init__(self, output: str, bootstrap_servers: str, topic: str, group_id: str,
                 start: dict[str, int]):
        super().__init__()
        self.output, self.bootstrap_servers = output, bootstrap_servers
        self.topic, self.group_id, self.start = topic, group_id, start

    def expand(self, inputs):
        files, accounted = inputs
        written = files | "WrittenOffsets" >> beam.FlatMap(
            _written_offsets, self.output, self.topic)
        return ((written | "GlobalWritten" >> beam.WindowInto(GlobalWindows()),
                 accounted | "GlobalAccounted" >> beam.WindowInto(GlobalWindows()))
                | "Offsets" >> beam.Flatten()
                | "Commit" >> beam.ParDo(_CommitFn(
                    self.bootstrap_servers, self.group_id, self.start)))


class KafkaUnavailable(Exception):
    """The brokers do not answer, or the topic is not there (a one-line message)."""


def start_offsets(bootstrap_servers: str, topic: str, group_id: str,
                  timeout: float = 15.0) -> dict[str, int]:
    """Per partition of ``topic``: where a run reads from — the group's committed offset,
    else (``auto.offset.reset=earliest``) the partition's first offset still held."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group_id,
                         "enable.auto.commit": False})
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(f"no Kafka broker answered at {bootstrap_servers} within "
                                   f"{timeout:.0f}s ({exc.args[0].str()})") from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise KafkaUnavailable(f"topic {topic!r} does not exist on {bootstrap_servers}")
        partitions = [TopicPartition(topic, p) for p in sorted(found.partitions)]
        start = {}
        for tp in _retrying(lambda: consumer.committed(partitions, timeout=timeout), timeout):
            # Nothing committed for this group yet, or only offsets that retention has
            # deleted since: the reader starts at the partition's first offset.
            first = consumer.get_watermark_offsets(tp, timeout=timeout)[0]
            start[partition_key(topic, tp.partition)] = max(tp.offset, first)
        return start
    finally:
        consumer.close()


def _retrying(call, timeout: float):
    """``call()``, again while the broker answers with a retriable error (a new broker's
    group coordinator still loading, say), for up to ``timeout`` seconds."""
    import time

    from confluent_kafka import KafkaError, KafkaException

    transient = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                 KafkaError.COORDINATOR_NOT_AVAILABLE}
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() in transient) \
                    or time.monotonic() > deadline:
                raise KafkaUnavailable(f"the brokers answered: {error.str()}") from None
            time.sleep(0.5)


def known_sources(sources, topic: str, start: dict[str, int]) -> frozenset[str]:
    """The ``kafka://`` sources among ``sources`` that a run starting at ``start`` reads
    again (at or after the partition's start offset)."""
    known = set()
    for source in sources:
        parsed = parse_source(source or "")
        if parsed and parsed[0] == topic and parsed[2] >= start.get(
                partition_key(topic, parsed[1]), 0):
            known.add(source)
    return frozenset(known)
