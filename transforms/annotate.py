"""Annotate: one spaCy pass per English article, rows for every NLP table.

The model is loaded once per worker process (``DoFn.setup`` + ``Shared``: in the
process itself, or in the budgeted child processes it shares, ``processes`` of them)
and run batched; batches are bounded by article count and by characters. The stage
emits plain rows, never ``Doc`` objects. By default spaCy and the extractors run in
child processes with a time budget per article (see ``AnnotateBatchFn``), which parse
in the background while the worker goes on with the stages before: in the batch shape
(``attach``: reading, cleaning and the parse in one fused stage, deduplication after)
cleaning and parsing use every core. Each article leaves with its ``nlp_status``; a
failure costs that article's annotations (an errors row), never the article itself.
Each extractor's time per article (measured where it runs, the child included) is the
distribution ``annotate/extractor_us/<name>``. The streaming shape annotates after
deduplication.
"""
from __future__ import annotations

import collections
import dataclasses
import queue
from concurrent.futures import ThreadPoolExecutor

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared
from apache_beam.utils.windowed_value import WindowedValue

from schemas.layout import ERRORS
from transforms.errors import error_row
from transforms.nlp import model as nlp_lib
from transforms.nlp import registry
from transforms.shaping.batching import SortedBatches
from transforms.shaping.memory import HeapTrimmer
from transforms.spill import close_reader, decode, encode, load, restore

STAGE = "annotate"
# The key of an article's NLP rows (by table, its annotate errors under ``ERRORS``, the
# extractors' microseconds under ``TIMINGS``) while it travels with them to
# deduplication (``Annotate(attach=True)``); ``COPY``: not parsed, a copy of an article
# parsed in the same bundle (``copy_key``), whose rows it takes if it is the one kept.
ANNOTATIONS = "_annotations"
TIMINGS, COPY = "us", "copy"
RECORDS = "records"  # ``UnpackAnnotations(records=True)``: every NLP row as (table, row)
# Batches a worker's NLP child may be behind the stage before it: they wait while the
# child parses, and the next are cleaned meanwhile (``AnnotateBatchFn``).
BATCHES_AHEAD = 4
# At the end of a bundle the batches still waiting are cut into batches of this many
# articles, so that the children finish together instead of one parsing the last alone.
TAIL_BATCH = 4


@dataclasses.dataclass(frozen=True)
class AnnotateConfig:
    """The annotate stage's settings (their defaults: ``pipeline.options``).

    Batches hold at most ``batch_size`` articles and ``batch_chars`` characters;
    articles longer than ``chunk_chars`` are parsed in chunks; only the first
    ``max_nlp_chars`` characters are annotated; ``parse``: how much of the spaCy
    pipeline runs (``nlp.model.PARSE_MODES``). ``nlp_timeout`` > 0: spaCy runs in
    a child process with that budget per article (``max_rss_mb`` of memory; forked
    from ``zygote`` when given); 0: in-process, unbounded. ``processes``: NLP
    children per worker process (with ``nlp_timeout`` > 0), each parsing its own batches.
    """

    model: str | None
    extractors: tuple[str, ...]
    batch_size: int
    batch_chars: int
    chunk_chars: int
    nlp_timeout: float
    max_nlp_chars: int
    max_rss_mb: float = 0
    zygote: str | None = None
    parse: str = nlp_lib.PARSE_MODES[0]
    processes: int = 1


class _Model:
    """A weak-referenceable holder for the shared spaCy pipeline."""

    def __init__(self, nlp):
        self.nlp = nlp


class ModelHandle:
    """Where a worker process keeps its spaCy model: one per process (``Shared``),
    in a budgeted child (``nlp_timeout`` > 0) or in the process itself.

    Picklable; every DoFn holding the same handle in one process gets the same
    model, so ``PrestartModel`` can load it before ``AnnotateBatchFn`` needs it.
    """

    def __init__(self, config: AnnotateConfig):
        self.shared = Shared()
        self.children = [Shared() for _ in range(max(1, config.processes))]
        self.config = config

    def acquire(self):
        """The process's ``SharedWorker``s (budgeted children, ``processes`` of them) or
        its ``_Model``, started or loaded on first use."""
        config = self.config
        name, chunk, parse = config.model, config.chunk_chars, config.parse
        if config.nlp_timeout > 0:
            from transforms.sandbox.worker import acquire_worker
            return [acquire_worker(
                shared, f"spacy-worker:{name}:{chunk}:{parse}:{config.max_rss_mb}:{slot}",
                "transforms.nlp.model:worker_annotate", "transforms.nlp.model:worker_setup",
                (name, chunk, parse), what="NLP annotation", option="--nlp_timeout",
                max_rss_mb=config.max_rss_mb, zygote=config.zygote)
                for slot, shared in enumerate(self.children)]
        return self.shared.acquire(lambda: _Model(nlp_lib.load_model(name, chunk, parse)),
                                   tag=f"spacy:{name}:{parse}")


class _PrestartFn(beam.DoFn):
    """Passes elements through; its setup starts loading the model in the background."""

    def __init__(self, handle: ModelHandle):
        self._handle = handle

    def setup(self):
        import threading

        self._held = []  # a strong reference: ``Shared`` keeps the model only while used

        def load():
            try:
                self._held.append(self._handle.acquire())
            except Exception:  # AnnotateBatchFn will try again and report it
                pass
        threading.Thread(target=load, name="prestart-nlp-model", daemon=True).start()

    def process(self, element):
        yield element


class PrestartModel(beam.PTransform):
    """Identity on its input; in each worker process that runs it, the spaCy model
    starts loading at once, so it is ready when the annotate stage begins (the
    load overlaps the stages before it instead of delaying the first batch)."""

    def __init__(self, handle: ModelHandle):
        super().__init__()
        self.handle = handle

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_PrestartFn(self.handle))


class AnnotateBatchFn(beam.DoFn):
    """Annotates batches of articles.

    With ``nlp_timeout`` > 0 the model lives in a persistent child process
    (``transforms.sandbox.worker``) and each article's result must come within
    ``nlp_timeout`` seconds of the previous one: an article that overruns (or
    crashes the child) costs its annotations only, and the child is restarted.
    0 runs spaCy in-process, unbounded. Only the first ``max_nlp_chars``
    characters of an article are annotated (``nlp_status = 'truncated'`` beyond).
    """

    def __init__(self, handle: ModelHandle, attach: bool = False):
        config = handle.config
        self._handle = handle
        self._attach = attach
        self._extractors = config.extractors
        self._max_chunk_chars = config.chunk_chars
        self._timeout, self._max_nlp_chars = config.nlp_timeout, config.max_nlp_chars
        self.parsed = Metrics.counter(STAGE, "articles_parsed")
        self.skipped = Metrics.counter(STAGE, "articles_skipped_language")
        self.truncated = Metrics.counter(STAGE, "articles_truncated")
        self.failed = Metrics.counter(STAGE, "articles_failed")
        self.over_budget = Metrics.counter(STAGE, "nlp_budget_exceeded")
        self.copies = Metrics.counter(STAGE, "copies_not_parsed")
        self.peak_rss = Metrics.distribution(STAGE, "worker_peak_rss_mb")
        self.rows = _row_counters()
        self.timings = _timing_distributions()

    def setup(self):
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._ahead = self._children = None
        if self._timeout <= 0:
            self._nlp = self._handle.acquire().nlp
            return
        # With children, batches are parsed there while this thread goes on with the
        # stages before (cleaning, in the fused batch shape): every core works. The
        # children start in the background, so that a fused stage cleans meanwhile
        # instead of waiting in setup for the model to load.
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="nlp-children")
        self._children = self._starter.submit(self._start_children)
        self._ahead = ThreadPoolExecutor(max(1, self._handle.config.processes),
                                         thread_name_prefix="nlp-batches")

    def _start_children(self) -> list:
        workers = self._handle.acquire()
        for worker in workers:
            self._free.put(worker)
        return workers

    def teardown(self):
        if getattr(self, "_ahead", None) is not None:
            self._ahead.shutdown(wait=True)
            self._starter.shutdown(wait=False)

    def start_bundle(self):
        self._trimmer = HeapTrimmer()
        self._pending: collections.deque = collections.deque()
        # Copies parsed in this bundle (attach): its outputs commit together, so a copy
        # skipped here always meets the parsed one at deduplication, retries included.
        self._parsed_keys: set = set()

    def finish_bundle(self):
        if self._ahead is not None:
            self._split_waiting()
        while self._pending:
            yield from self._emit(self._pending.popleft())
        self._trimmer.now()
        if self._children is not None and self._children.done() and not self._children.exception():
            for worker in self._children.result():
                self.peak_rss.update(int(worker.worker.peak_mb()))

    def _results(self, items: list[tuple[str, str, dict]], child=None):
        """One result per ``(article_id, text, source)``, in order (see
        ``nlp.annotate_articles``), in-process or by the ``SharedWorker`` ``child``;
        a hang or crash costs the article at hand."""
        args = (self._max_chunk_chars, self._extractors)
        if child is None:
            yield from nlp_lib.annotate_articles(self._nlp, items, *args)
            return
        from transforms.sandbox.worker import BudgetExceeded, RemoteError, WorkerDied

        pending, alone = list(items), False
        while pending:
            batch, got = pending[:1] if alone else pending, 0
            try:
                for result in child.worker.stream(batch, *args, timeout=self._timeout):
                    got += 1
                    yield result
            except (BudgetExceeded, WorkerDied) as exc:
                if got == 0 and len(batch) > 1:
                    alone = True  # the batch parse or its first article: find the culprit
                    continue
                got += 1
                yield {"error": (exc.code, str(exc), None), "over_budget": True}
            except RemoteError as exc:
                got += 1
                yield {"error": (exc.code, str(exc), exc.detail)}
            pending = pending[got:]

    def process(self, batch: list[dict], window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        todo = []
        for article in batch:
            if not nlp_lib.reads_language(article.get("language")):
                self.skipped.inc()
                yield {**article, "nlp_status": "skipped_language"}
            elif self._attach and copy_key(article) in self._parsed_keys:
                self.copies.inc()
                yield {**article, "nlp_status": None, ANNOTATIONS: {COPY: True}}
            else:
                if self._attach:
                    self._parsed_keys.add(copy_key(article))
                todo.append(article)
        items = [(a["article_id"], nlp_lib.nlp_prefix(a["text"], self._max_nlp_chars),
                  nlp_lib.article_source(a))
                 for a in todo]
        if self._ahead is None:
            yield from self._outputs(todo, items, list(self._results(items)))
            return
        # The child parses in the background; results leave in order, in their windows.
        self._pending.append((todo, items, window, timestamp,
                              self._ahead.submit(self._child_results, items)))
        while len(self._pending) > BATCHES_AHEAD or self._pending[0][-1].done():
            yield from self._emit(self._pending.popleft())
            if not self._pending:
                break

    def _split_waiting(self) -> None:
        """Cut each batch no child has started into batches of ``TAIL_BATCH`` articles."""
        split: collections.deque = collections.deque()
        for todo, items, window, timestamp, future in self._pending:
            if len(items) <= TAIL_BATCH or not future.cancel():
                split.append((todo, items, window, timestamp, future))
                continue
            for at in range(0, len(items), TAIL_BATCH):
                part = items[at:at + TAIL_BATCH]
                split.append((todo[at:at + TAIL_BATCH], part, window, timestamp,
                              self._ahead.submit(self._child_results, part)))
        self._pending = split

    def _child_results(self, items: list[tuple]) -> list[dict]:
        self._children.result()  # started (or the reason they could not be)
        child = self._free.get()  # a child of this DoFn's that no batch is using
        try:
            with child.lock:  # bundles of one process take turns on its children
                return list(self._results(items, child))
        finally:
            self._free.put(child)

    def _emit(self, pending: tuple):
        """The outputs of a batch parsed in the background, in the batch's window
        (metrics are updated here, on the bundle's thread)."""
        todo, items, window, timestamp, future = pending
        self._trimmer.tick()
        for out in self._outputs(todo, items, future.result()):
            if isinstance(out, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, timestamp, (window,)))
            else:
                yield WindowedValue(out, timestamp, (window,))

    def _outputs(self, todo: list[dict], items: list[tuple], results: list[dict]):
        for article, (_, text, _), result in zip(todo, items, results):
            if result.get("over_budget"):
                self.over_budget.inc()
            if "error" in result:
                yield from self._failed(article, *result["error"])
            elif self._attach:  # timings counted where the rows are written (``_UnpackFn``)
                yield from self._annotated(article, text, result["tables"], result.get("us", {}))
            else:
                for name, microseconds in result.get("us", {}).items():
                    self.timings[name].update(microseconds)
                yield from self._annotated(article, text, result["tables"])

    def _failed(self, article: dict, code: str, message: str, detail: str | None):
        """A failed annotation: the article kept (``nlp_status = 'error'``) and an errors row."""
        self.failed.inc()
        row = error_row(article["source"], STAGE, code, message, article_id=article["article_id"])
        if self._attach:
            yield {**article, "nlp_status": "error", ANNOTATIONS: {ERRORS: [{**row, "detail": detail}]}}
            return
        yield beam.pvalue.TaggedOutput(ERRORS, {**row, "detail": detail})
        yield {**article, "nlp_status": "error"}

    def _annotated(self, article: dict, text: str, tables: dict[str, list[dict]],
                   timings: dict[str, int] | None = None):
        """An annotated article (``ok``, or ``truncated`` with an errors row when only
        the prefix ``text`` was read) and its rows of every NLP table."""
        self.parsed.inc()
        status, errors = "ok", []
        if len(text) < len(article["text"]):
            status = "truncated"
            self.truncated.inc()
            errors.append(error_row(
                article["source"], STAGE, "NlpTruncated",
                f"article of {len(article['text']):,} characters: only the first "
                f"{len(text):,} were annotated (--max_nlp_chars {self._max_nlp_chars:,})",
                article_id=article["article_id"]))
        if self._attach:
            yield {**article, "nlp_status": status,
                   ANNOTATIONS: pack_annotations({**tables, ERRORS: errors, TIMINGS: timings or {}})}
            return
        for row in errors:
            yield beam.pvalue.TaggedOutput(ERRORS, row)
        yield {**article, "nlp_status": status}
        yield from _table_rows(tables, self.rows)


def _table_rows(tables: dict[str, list[dict]], counters: dict, records: bool = False):
    """Each row of each NLP table as its tagged output, counted (``records``: as
    ``(table, row)`` in ``RECORDS``)."""
    for table, rows in tables.items():
        counters[table].inc(len(rows))
        for row in rows:
            yield beam.pvalue.TaggedOutput(RECORDS, (table, row)) if records else \
                beam.pvalue.TaggedOutput(table, row)


def _row_counters() -> dict:
    return {table: Metrics.counter(STAGE, stat)
            for extractor in registry.EXTRACTORS.values()
            for table, stat in zip(extractor.tables, extractor.stats)}


def _timing_distributions() -> dict:
    return {name: Metrics.distribution(STAGE, registry.timing_metric(name))
            for name in registry.EXTRACTORS}


def copy_key(article: dict) -> tuple:
    """What an article's NLP rows depend on besides its id: its text (by content hash)
    and its source (the figures read what "$" means from it)."""
    source = nlp_lib.article_source(article)
    return article["content_hash"], source["hostname"], source["sitename"]


def pack_annotations(annotations: dict) -> bytes:
    """An article's NLP rows as they travel through deduplication: pickled and
    compressed (a fifth of their size in Beam's coder, and a third of its time to
    encode and decode); ``unpack_annotations`` reads them."""
    return encode(annotations)


def unpack_annotations(annotations) -> dict | None:
    """The NLP rows an article carries (``pack_annotations``, read back first if
    spilled: ``transforms.spill``; a copy's marker, an error or None as they are)."""
    annotations = load(annotations)
    if isinstance(annotations, bytes):
        return decode(annotations)
    return annotations


def _is_copy(article: dict) -> bool:
    """Whether the article is a copy whose rows are another copy's (``COPY``)."""
    annotations = article.get(ANNOTATIONS)
    return isinstance(annotations, dict) and bool(annotations.get(COPY))


def adopt_annotations(kept: dict, copies: list[dict]) -> dict:
    """The copy deduplication keeps, with NLP rows: its own, or those of the copy of it
    that was parsed (``COPY``), keyed by its id and source, packed again."""
    if not _is_copy(kept):
        return kept
    key = copy_key(kept)
    donor = next((c for c in copies if copy_key(c) == key and c.get(ANNOTATIONS) is not None
                  and not _is_copy(c)), None)
    if donor is None:  # cannot happen (see ``AnnotateBatchFn.start_bundle``); never lose it
        row = error_row(kept["source"], STAGE, "NlpCopyMissing",
                        "a copy of this article was parsed, but it was not found at deduplication",
                        article_id=kept["article_id"])
        return {**kept, "nlp_status": "error", ANNOTATIONS: {ERRORS: [row]}}
    ids, annotations = {"article_id": kept["article_id"]}, unpack_annotations(donor[ANNOTATIONS])
    close_reader()  # the donor's rows may have been read from its spill file
    rekeyed = {table: [{**row, **ids} for row in rows]
               for table, rows in annotations.items() if table in registry.TABLES}
    rekeyed[ERRORS] = [{**row, **ids, "source": kept["source"]}
                       for row in annotations.get(ERRORS, ())]
    rekeyed[TIMINGS] = annotations.get(TIMINGS, {})
    return {**kept, "nlp_status": donor["nlp_status"], ANNOTATIONS: pack_annotations(rekeyed)}


class _UnpackFn(beam.DoFn):
    """An article that carries its NLP rows (spilled values read back) -> the article,
    each row as its table's output (``records``: as ``(table, row)`` in ``RECORDS``;
    ``article_table``: the article too, as a row of that table), annotate errors as
    ``ERRORS``, and the extractors' times."""

    def __init__(self, records: bool = False, article_table: str | None = None):
        self.records, self.article_table = records, article_table
        self.rows = _row_counters()
        self.timings = _timing_distributions()

    def start_bundle(self):
        self._trimmer = HeapTrimmer()

    def finish_bundle(self):
        close_reader()
        self._trimmer.now()

    def _article(self, article: dict):
        if self.article_table:
            return beam.pvalue.TaggedOutput(RECORDS, (self.article_table, article))
        return article

    def process(self, article: dict):
        self._trimmer.tick()
        packed = article.get(ANNOTATIONS)
        article = restore({k: v for k, v in article.items() if k != ANNOTATIONS})
        annotations = unpack_annotations(packed)
        yield self._article(article)
        if annotations is None:
            return
        for name, microseconds in annotations.get(TIMINGS, {}).items():
            self.timings[name].update(microseconds)
        for row in annotations.get(ERRORS, ()):
            yield beam.pvalue.TaggedOutput(ERRORS, row)
        yield from _table_rows({t: r for t, r in annotations.items() if t in registry.TABLES},
                               self.rows, self.records)


class UnpackAnnotations(beam.PTransform):
    """Articles from ``Annotate(attach=True)`` (after deduplication: only the kept
    copies' rows are written) -> articles (main), the NLP tables, and errors.
    ``records``: the NLP tables' rows as one output of ``(table, row)``
    (``RECORDS``: ``transforms.write.WriteTables`` writes tables that share one
    PCollection through a sink of their own) instead of one per table;
    ``article_table``: the articles among them, as rows of that table."""

    def __init__(self, records: bool = False, article_table: str | None = None):
        super().__init__()
        self.records, self.article_table = records or bool(article_table), article_table

    def expand(self, articles):
        outputs = (RECORDS,) if self.records else registry.TABLES
        return articles | beam.ParDo(_UnpackFn(self.records, self.article_table)).with_outputs(
            ERRORS, *outputs, main="articles")


# Batches' worth of articles sorted by length before batching: fewer where the
# stage before runs beside the parse (``attach``), so the child starts sooner; there
# a worker's first batches also hold fewer articles (``FIRST_BATCH``, then doubling).
SORT_WINDOWS, SORT_WINDOWS_ATTACHED = 8, 1
FIRST_BATCH = 4


class Annotate(beam.PTransform):
    """Articles -> articles with ``nlp_status`` (main), the NLP tables, errors.

    ``attach``: each article carries its rows instead (``ANNOTATIONS``, packed:
    ``pack_annotations``), for a stage after this one (deduplication) to decide which
    are written (``UnpackAnnotations``).
    ``prestart()`` gives the transform to put on an earlier stage's input so the
    model loads while that stage runs."""

    def __init__(self, config: AnnotateConfig, attach: bool = False):
        super().__init__()
        self.config = config
        self.attach = attach
        self.handle = ModelHandle(config)

    def prestart(self) -> PrestartModel:
        return PrestartModel(self.handle)

    def expand(self, articles):
        config = self.config
        max_nlp_chars, size, chars = config.max_nlp_chars, config.batch_size, config.batch_chars

        def weight(article: dict) -> int:
            if not nlp_lib.reads_language(article.get("language")):
                return 1
            return min(len(article["text"]), max_nlp_chars) + 1
        # Batches of articles of similar length, sorted a few batches' worth at a
        # time: a worker never holds its whole share of the input.
        batches = articles | "Batch" >> SortedBatches(
            size, chars, weight, *((SORT_WINDOWS_ATTACHED, FIRST_BATCH) if self.attach
                                   else (SORT_WINDOWS,)))
        return batches | "SpaCy" >> beam.ParDo(
            AnnotateBatchFn(self.handle, self.attach)).with_outputs(
                ERRORS, *registry.TABLES, main="articles")
