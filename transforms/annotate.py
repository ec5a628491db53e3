"""Annotate: one spaCy pass per English article, rows for every NLP table.

The model is loaded once per worker process (``DoFn.setup`` + ``Shared``) and
run batched; batches are bounded by article count and by characters. The
stage emits plain rows, never ``Doc`` objects. Each article leaves with its
``nlp_status``; a failure costs that article's annotations (an errors row),
never the article itself.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from transforms import nlp as nlp_lib
from transforms.errors import ERRORS, error_row

STAGE = "annotate"
NLP_TABLES = ("entities", "mentions", "figures", "quotes")


class _Model:
    """A weak-referenceable holder for the shared spaCy pipeline."""

    def __init__(self, nlp):
        self.nlp = nlp


class AnnotateBatchFn(beam.DoFn):
    def __init__(self, shared: Shared, model: str | None, max_chunk_chars: int,
                 extractors: tuple[str, ...]):
        self._shared = shared
        self._extractors = extractors
        self._model_name = model
        self._max_chunk_chars = max_chunk_chars
        self.parsed = Metrics.counter(STAGE, "articles_parsed")
        self.skipped = Metrics.counter(STAGE, "articles_skipped_language")
        self.failed = Metrics.counter(STAGE, "articles_failed")
        self.rows = {t: Metrics.counter(STAGE, f"{t}_rows") for t in NLP_TABLES}

    def setup(self):
        name, chunk = self._model_name, self._max_chunk_chars
        self._nlp = self._shared.acquire(
            lambda: _Model(nlp_lib.load_model(name, chunk)), tag=f"spacy:{name}").nlp

    def _annotate(self, articles: list[dict]):
        docs = nlp_lib.parse_texts(self._nlp, (a["text"] for a in articles),
                                   self._max_chunk_chars, batch_size=len(articles))
        return [nlp_lib.annotate_doc(a["article_id"], doc, self._extractors)
                for a, doc in zip(articles, docs)]

    def process(self, batch: list[dict]):
        todo = []
        for article in batch:
            if article.get("language") not in nlp_lib.MODEL_LANGUAGES:
                self.skipped.inc()
                yield {**article, "nlp_status": "skipped_language"}
            else:
                todo.append(article)
        try:
            results = self._annotate(todo)
        except Exception:  # find the culprit: retry one article at a time
            results = []
            for article in todo:
                try:
                    results.extend(self._annotate([article]))
                except Exception as exc:
                    results.append(exc)
        for article, result in zip(todo, results):
            if isinstance(result, Exception):
                self.failed.inc()
                yield beam.pvalue.TaggedOutput(ERRORS, error_row(
                    article["source"], STAGE, result, article_id=article["article_id"]))
                yield {**article, "nlp_status": "error"}
                continue
            self.parsed.inc()
            yield {**article, "nlp_status": "ok"}
            for table, rows in result.items():
                self.rows[table].inc(len(rows))
                for row in rows:
                    yield beam.pvalue.TaggedOutput(table, row)


class Annotate(beam.PTransform):
    """Articles -> articles with ``nlp_status`` (main), the NLP tables, errors."""

    def __init__(self, model: str | None = None, batch_size: int = 32,
                 batch_chars: int = 200_000, max_chunk_chars: int = 100_000,
                 extractors: tuple[str, ...] = nlp_lib.EXTRACTORS):
        super().__init__()
        self.model, self.extractors = model, tuple(extractors)
        self.batch_size, self.batch_chars = batch_size, batch_chars
        self.max_chunk_chars = max_chunk_chars

    def expand(self, articles):
        return (
            articles
            | "Batch" >> beam.SortAndBatchElements(
                min_batch_size=1, max_batch_size=self.batch_size,
                max_batch_weight=self.batch_chars,
                element_size_fn=lambda a: len(a["text"]) + 1)
            | "SpaCy" >> beam.ParDo(AnnotateBatchFn(
                Shared(), self.model, self.max_chunk_chars, self.extractors)).with_outputs(
                    ERRORS, *NLP_TABLES, main="articles"))
