"""Spill: an article's large values go to a file in the stage that makes them; a
reference travels through the shuffles in their place.

After the fused read -> clean -> annotate stage, a batch run deduplicates, clusters
stories and attaches story ids: none of it reads an article's text or NLP rows. The
local runner holds every stage's input and hands each worker its whole share of it,
so carrying them costs every process memory in proportion to the input. ``Spill``
writes them, compressed, to one file per bundle under the run's staging folder
(``spill_folder``) and puts a ``Spilled`` reference in their place; ``restore`` reads
them back where the tables are written (``RestoreInOrder`` groups the references by
block of a file, so each block is read front to back, also from object stores). The
files are deleted with the staging folder. A retried bundle writes a file of its own:
the references of a failed attempt are never read.
"""
from __future__ import annotations

import pickle
import threading
import uuid
import zlib
from typing import Iterable, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

STAGE = "spill"
FOLDER = "_spill"  # under the staging folder, beside the tables
MIN_BYTES = 256    # smaller values travel as they are


class Spilled(NamedTuple):
    """Where a spilled value is: ``length`` bytes at ``offset`` of ``path``."""

    path: str
    offset: int
    length: int


def spill_folder(staged: str) -> str:
    return FileSystems.join(staged, FOLDER)


def encode(value) -> bytes:
    return zlib.compress(pickle.dumps(value, pickle.HIGHEST_PROTOCOL), 1)


def decode(data: bytes):
    return pickle.loads(zlib.decompress(data))


class _Reader:
    """Reads spilled values, keeping the last file open (references come in order)."""

    def __init__(self):
        self._path, self._file = None, None

    def read(self, ref: Spilled):
        if ref.path != self._path:
            self.close()
            self._file = FileSystems.open(ref.path, compression_type=CompressionTypes.UNCOMPRESSED)
            self._path = ref.path
        try:
            self._file.seek(ref.offset)
            data = self._file.read(ref.length)
            if len(data) != ref.length:
                raise IOError(f"spill file {ref.path} ends before {ref.offset + ref.length:,} bytes")
        except BaseException:  # a retry opens the file afresh
            self.close()
            raise
        return decode(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._path, self._file = None, None


_LOCAL = threading.local()  # a reader per thread: an SDK worker runs bundles in threads


def _reader() -> _Reader:
    if not hasattr(_LOCAL, "reader"):
        _LOCAL.reader = _Reader()
    return _LOCAL.reader


def load(value):
    """A value as it was before ``Spill`` (read back if it is a ``Spilled``)."""
    return _reader().read(value) if isinstance(value, Spilled) else value


def close_reader() -> None:
    """Close the file this thread's ``load`` keeps open."""
    _reader().close()


def restore(record: dict) -> dict:
    """A record with every spilled value read back."""
    if not any(isinstance(v, Spilled) for v in record.values()):
        return record
    return {k: load(v) for k, v in record.items()}


def first_ref(record: dict) -> Spilled | None:
    return next((v for v in record.values() if isinstance(v, Spilled)), None)


class _SpillFn(beam.DoFn):
    """Records -> the same records, ``fields`` of ``MIN_BYTES`` or more replaced by
    ``Spilled`` references into this bundle's file."""

    def __init__(self, folder: str, fields: tuple[str, ...]):
        self.folder, self.fields = folder, fields
        self.spilled = Metrics.counter(STAGE, "values_spilled")
        self.bytes = Metrics.counter(STAGE, "bytes_spilled")

    def start_bundle(self):
        self._file, self._path, self._offset = None, None, 0

    def _write(self, value) -> Spilled:
        if self._file is None:
            self._path = FileSystems.join(self.folder, f"{uuid.uuid4().hex}.bin")
            self._file = FileSystems.create(self._path, mime_type="application/octet-stream",
                                            compression_type=CompressionTypes.UNCOMPRESSED)
        data = encode(value)
        self._file.write(data)
        ref = Spilled(self._path, self._offset, len(data))
        self._offset += len(data)
        self.spilled.inc()
        self.bytes.inc(len(data))
        return ref

    def process(self, record: dict):
        out = dict(record)
        for field in self.fields:
            value = record.get(field)
            if isinstance(value, (str, bytes)) and len(value) >= MIN_BYTES:
                out[field] = self._write(value)
        yield out

    def finish_bundle(self):
        if self._file is not None:  # complete before the bundle's outputs count
            self._file.close()
            self._file = None


class Spill(beam.PTransform):
    """Records -> records whose large ``fields`` are ``Spilled`` references into files
    under ``folder`` (see the module's docstring)."""

    def __init__(self, folder: str, fields: tuple[str, ...]):
        super().__init__()
        self.folder, self.fields = folder, fields

    def expand(self, records):
        return records | beam.ParDo(_SpillFn(self.folder, self.fields))


BLOCK_BYTES = 1 << 20  # a restore group: the references into one block of a spill file


def restore_key(record: dict) -> tuple[str, int]:
    """Where ``RestoreInOrder`` groups a record: its spill file and the block of
    ``BLOCK_BYTES`` its value starts in (records without a reference: spread by id)."""
    ref = first_ref(record)
    if ref is None:
        return "", zlib.crc32(str(record.get("article_id")).encode()) & 0xFFFF
    return ref.path, ref.offset // BLOCK_BYTES


def _offset(record: dict) -> int:
    ref = first_ref(record)
    return ref.offset if ref is not None else 0


def _in_file_order(keyed: tuple[tuple[str, int], Iterable[dict]]):
    try:
        yield from sorted(keyed[1], key=_offset)
    finally:
        close_reader()


class RestoreInOrder(beam.PTransform):
    """Spilled records -> the same records, grouped by block of a spill file and in
    file order, so that ``restore`` reads each block front to back; a group holds
    the references into ``BLOCK_BYTES`` of a file, however large the file (a spill
    file holds a worker's whole share on the local runner)."""

    def expand(self, records):
        return (records
                | "ByBlock" >> beam.WithKeys(restore_key)
                | "GroupByBlock" >> beam.GroupByKey()
                | "InFileOrder" >> beam.FlatMap(_in_file_order))
