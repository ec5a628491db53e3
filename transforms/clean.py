"""Clean: documents -> article rows, with an error row for each that fails.

The work per page is ``transforms.formats.page.clean_document``; here it is wired into
Beam, with trafilatura in a time-budgeted child process.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from schemas.layout import ERRORS
from transforms.errors import error_row
from transforms.formats.document import Document
from transforms.formats.page import clean_document, extract, quiet_logging
from transforms.shaping.memory import few_arenas, release_output_buffers

STAGE = "clean"


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """The clean stage's settings (their defaults: ``pipeline.options``).

    ``extract_timeout`` > 0: trafilatura runs in a persistent child process
    (``transforms.sandbox.worker``) and a page that takes longer becomes an error
    row; 0 runs it in-process, unbounded. ``max_rss_mb``: the child's memory
    budget (0: none). ``zygote``: the run's zygote to fork the child from, or None.
    ``language``: the language every document is declared in (``--language``), or None.
    """

    min_text_chars: int
    extract_timeout: float
    max_rss_mb: float = 0
    zygote: str | None = None
    language: str | None = None


class CleanFn(beam.DoFn):
    """``clean_document`` with an error row for each document that fails (see
    ``CleanConfig`` for where trafilatura runs)."""

    def __init__(self, config: CleanConfig, shared: Shared | None = None):
        self.config, self._shared = config, shared or Shared()
        self.articles = Metrics.counter(STAGE, "articles")
        self.errors = Metrics.counter(STAGE, "errors")
        self.words = Metrics.counter(STAGE, "words")
        self.timeouts = Metrics.counter(STAGE, "extract_budget_exceeded")
        self.peak_rss = Metrics.distribution(STAGE, "worker_peak_rss_mb")

    def setup(self):
        quiet_logging()
        release_output_buffers()  # a bundle's output buffers go once sent (any SDK worker)
        few_arenas()  # where ``pipeline`` was not imported first (remote workers)
        self._worker = None
        config = self.config
        if config.extract_timeout > 0:  # one child per worker process, shared by instances
            from transforms.sandbox.worker import acquire_worker
            self._worker = acquire_worker(
                self._shared, f"trafilatura:{config.max_rss_mb}",
                "transforms.formats.page:extract", "transforms.formats.page:quiet_logging",
                what="trafilatura extraction", option="--extract_timeout",
                max_rss_mb=config.max_rss_mb, zygote=config.zygote)

    def _extract(self, html: str, url: str | None) -> dict | None:
        with self._worker.lock:
            return self._worker.worker.call(html, url, timeout=self.config.extract_timeout)

    def process(self, doc: Document):
        from transforms.sandbox.worker import BudgetExceeded, RemoteError

        try:
            article = clean_document(doc, self.config.min_text_chars,
                                     self._extract if self._worker else extract,
                                     language=self.config.language)
        except Exception as exc:
            if isinstance(exc, BudgetExceeded):
                self.timeouts.inc()
            self.errors.inc()
            row = error_row(doc.source, STAGE, exc)
            if isinstance(exc, RemoteError):  # the child's traceback, not the pipe's
                row["detail"] = exc.detail[-4000:]
            yield beam.pvalue.TaggedOutput(ERRORS, row)
            return
        self.articles.inc()
        self.words.inc(article["word_count"])
        yield article

    def finish_bundle(self):
        if self._worker is not None:
            self.peak_rss.update(int(self._worker.worker.peak_mb()))


class Clean(beam.PTransform):
    """``Document`` records -> article rows (main output) and error rows (``errors``)."""

    def __init__(self, config: CleanConfig):
        super().__init__()
        self.config = config

    def expand(self, documents):
        return documents | "Trafilatura" >> beam.ParDo(
            CleanFn(self.config, Shared())).with_outputs(ERRORS, main="articles")
