"""Annotate: one spaCy pass per English article, rows for every NLP table.

The model is loaded once per worker process (``DoFn.setup`` + ``Shared``: in
the process itself, or in the one budgeted child process it shares) and run
batched; batches are bounded by article count and by characters. The
stage emits plain rows, never ``Doc`` objects. Batch runs first spread the
articles over workers in bins of equal text (``transforms.shaping.balance``), so workers
finish together. By default spaCy and the
extractors run in a child process with a time budget per article (see
``AnnotateBatchFn``). Each article leaves with its
``nlp_status``; a failure costs that article's annotations (an errors row),
never the article itself. Each extractor's time per article (measured where it
runs, the child included) is the distribution ``annotate/extractor_us/<name>``.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from schemas.layout import ERRORS
from transforms.errors import error_row
from transforms.nlp import model as nlp_lib
from transforms.nlp import registry
from transforms.shaping.balance import BalancedGroups
from transforms.shaping.batching import SortedBatches

STAGE = "annotate"


@dataclasses.dataclass(frozen=True)
class AnnotateConfig:
    """The annotate stage's settings (their defaults: ``pipeline.options``).

    Batches hold at most ``batch_size`` articles and ``batch_chars`` characters;
    articles longer than ``chunk_chars`` are parsed in chunks; only the first
    ``max_nlp_chars`` characters are annotated; ``parse``: how much of the spaCy
    pipeline runs (``nlp.model.PARSE_MODES``). ``nlp_timeout`` > 0: spaCy runs in
    a child process with that budget per article (``max_rss_mb`` of memory; forked
    from ``zygote`` when given); 0: in-process, unbounded. ``balance``: batch from
    bins of equal text (batch runs; ``transforms.shaping.balance``).
    """

    model: str | None
    extractors: tuple[str, ...]
    batch_size: int
    batch_chars: int
    chunk_chars: int
    nlp_timeout: float
    max_nlp_chars: int
    max_rss_mb: float = 0
    balance: bool = True
    zygote: str | None = None
    parse: str = nlp_lib.PARSE_MODES[0]


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
        self.config = config

    def acquire(self):
        """The process's ``SharedWorker`` (budgeted child) or ``_Model``, started
        or loaded on first use."""
        config = self.config
        name, chunk, parse = config.model, config.chunk_chars, config.parse
        if config.nlp_timeout > 0:
            from transforms.sandbox.worker import acquire_worker
            return acquire_worker(
                self.shared, f"spacy-worker:{name}:{chunk}:{parse}:{config.max_rss_mb}",
                "transforms.nlp.model:worker_annotate", "transforms.nlp.model:worker_setup",
                (name, chunk, parse), what="NLP annotation", option="--nlp_timeout",
                max_rss_mb=config.max_rss_mb, zygote=config.zygote)
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

    def __init__(self, handle: ModelHandle):
        config = handle.config
        self._handle = handle
        self._extractors = config.extractors
        self._max_chunk_chars = config.chunk_chars
        self._timeout, self._max_nlp_chars = config.nlp_timeout, config.max_nlp_chars
        self.parsed = Metrics.counter(STAGE, "articles_parsed")
        self.skipped = Metrics.counter(STAGE, "articles_skipped_language")
        self.truncated = Metrics.counter(STAGE, "articles_truncated")
        self.failed = Metrics.counter(STAGE, "articles_failed")
        self.over_budget = Metrics.counter(STAGE, "nlp_budget_exceeded")
        self.peak_rss = Metrics.distribution(STAGE, "worker_peak_rss_mb")
        self.rows = {table: Metrics.counter(STAGE, stat)
                     for extractor in registry.EXTRACTORS.values()
                     for table, stat in zip(extractor.tables, extractor.stats)}
        self.timings = {name: Metrics.distribution(STAGE, registry.timing_metric(name))
                        for name in registry.EXTRACTORS}

    def setup(self):
        model = self._handle.acquire()
        self._worker = model if self._timeout > 0 else None
        self._nlp = None if self._timeout > 0 else model.nlp

    def finish_bundle(self):
        if self._worker is not None:
            self.peak_rss.update(int(self._worker.worker.peak_mb()))

    def _results(self, items: list[tuple[str, str, dict]]):
        """One result per ``(article_id, text, source)``, in order (see
        ``nlp.annotate_articles``); a hang or crash costs the article at hand."""
        args = (self._max_chunk_chars, self._extractors)
        if self._worker is None:
            yield from nlp_lib.annotate_articles(self._nlp, items, *args)
            return
        from transforms.sandbox.worker import BudgetExceeded, RemoteError, WorkerDied

        pending, alone = list(items), False
        while pending:
            batch, got = pending[:1] if alone else pending, 0
            try:
                for result in self._worker.worker.stream(batch, *args, timeout=self._timeout):
                    got += 1
                    yield result
            except (BudgetExceeded, WorkerDied) as exc:
                if got == 0 and len(batch) > 1:
                    alone = True  # the batch parse or its first article: find the culprit
                    continue
                self.over_budget.inc()
                got += 1
                yield {"error": (exc.code, str(exc), None)}
            except RemoteError as exc:
                got += 1
                yield {"error": (exc.code, str(exc), exc.detail)}
            pending = pending[got:]

    def process(self, batch: list[dict]):
        todo = []
        for article in batch:
            if not nlp_lib.reads_language(article.get("language")):
                self.skipped.inc()
                yield {**article, "nlp_status": "skipped_language"}
            else:
                todo.append(article)
        items = [(a["article_id"], nlp_lib.nlp_prefix(a["text"], self._max_nlp_chars),
                  nlp_lib.article_source(a))
                 for a in todo]
        if self._worker is not None:
            with self._worker.lock:  # bundles of one process take turns on its child
                results = list(self._results(items))
        else:
            results = list(self._results(items))
        for article, (_, text, _), result in zip(todo, items, results):
            if "error" in result:
                yield from self._failed(article, *result["error"])
            else:
                for name, microseconds in result.get("us", {}).items():
                    self.timings[name].update(microseconds)
                yield from self._annotated(article, text, result["tables"])

    def _failed(self, article: dict, code: str, message: str, detail: str | None):
        """A failed annotation: the article kept (``nlp_status = 'error'``) and an errors row."""
        self.failed.inc()
        row = error_row(article["source"], STAGE, code, message, article_id=article["article_id"])
        yield beam.pvalue.TaggedOutput(ERRORS, {**row, "detail": detail})
        yield {**article, "nlp_status": "error"}

    def _annotated(self, article: dict, text: str, tables: dict[str, list[dict]]):
        """An annotated article (``ok``, or ``truncated`` with an errors row when only
        the prefix ``text`` was read) and its rows of every NLP table."""
        self.parsed.inc()
        status = "ok"
        if len(text) < len(article["text"]):
            status = "truncated"
            self.truncated.inc()
            yield beam.pvalue.TaggedOutput(ERRORS, error_row(
                article["source"], STAGE, "NlpTruncated",
                f"article of {len(article['text']):,} characters: only the first "
                f"{len(text):,} were annotated (--max_nlp_chars {self._max_nlp_chars:,})",
                article_id=article["article_id"]))
        yield {**article, "nlp_status": status}
        for table, rows in tables.items():
            self.rows[table].inc(len(rows))
            for row in rows:
                yield beam.pvalue.TaggedOutput(table, row)


class Annotate(beam.PTransform):
    """Articles -> articles with ``nlp_status`` (main), the NLP tables, errors.

    ``prestart()`` gives the transform to put on an earlier stage's input so the
    model loads while that stage runs."""

    def __init__(self, config: AnnotateConfig):
        super().__init__()
        self.config = config
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
        if config.balance:  # workers get bins of equal text; batches are cut within a worker
            articles = (articles
                        | "Balance" >> BalancedGroups(lambda a: a["article_id"], weight, chars, size)
                        | "Spread" >> beam.FlatMap(lambda group: group[1]))
        # Batches of articles of similar length, sorted a few batches' worth at a
        # time: a worker never holds its whole share of the input.
        batches = articles | "Batch" >> SortedBatches(size, chars, weight)
        return batches | "SpaCy" >> beam.ParDo(AnnotateBatchFn(self.handle)).with_outputs(
                ERRORS, *registry.TABLES, main="articles")
