"""Deduplicate: articles with the same content hash are kept once.

The kept copy is the one with the smallest ``source``, so every runner keeps
the same one; the others become rows of the ``duplicates`` table. In an
incremental run, an article already stored by an earlier run is a duplicate
of the stored one.
"""
from __future__ import annotations

from typing import Callable, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.layout import DUPLICATES

STAGE = "dedupe"


def pick_original(copies: Iterable[dict], stored: tuple[str, str] | None = None
                  ) -> tuple[dict | None, list[dict]]:
    """The copy to keep (None when ``stored`` = (article_id, source) already holds
    it) and the duplicate rows of the others."""
    ordered = sorted(copies, key=lambda a: a["source"])
    kept = None if stored else ordered[0]
    original_id, original_source = stored or (kept["article_id"], kept["source"])
    return kept, [{"source": other["source"], "content_hash": other["content_hash"],
                   "duplicate_of": original_id, "duplicate_of_source": original_source}
                  for other in ordered if other is not kept]


class _KeepOneFn(beam.DoFn):
    def __init__(self, adopt: Callable[[dict, list[dict]], dict] | None = None):
        self.duplicates = Metrics.counter(STAGE, "duplicates")
        self.adopt = adopt

    def process(self, keyed: tuple[str, Iterable[dict]], stored=None):
        copies = list(keyed[1])
        kept, duplicates = pick_original(copies, (stored or {}).get(keyed[0]))
        if kept is not None:
            yield self.adopt(kept, copies) if self.adopt else kept
        for row in duplicates:
            self.duplicates.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class Deduplicate(beam.PTransform):
    """Articles -> unique articles (main output) and duplicate rows (``duplicates``).

    ``stored``: optional PCollection of ``(content_hash, (article_id, source))``
    already in the output (incremental runs). ``adopt(kept, copies)``: the kept copy
    as written, given all copies (``transforms.annotate.adopt_annotations``).
    """

    def __init__(self, stored: beam.PCollection | None = None,
                 adopt: Callable[[dict, list[dict]], dict] | None = None):
        super().__init__()
        self.stored, self.adopt = stored, adopt

    def expand(self, articles):
        side = {} if self.stored is None else {"stored": beam.pvalue.AsDict(self.stored)}
        return (
            articles
            | "ByContentHash" >> beam.WithKeys(lambda a: a["content_hash"])
            | "Group" >> beam.GroupByKey()
            | "KeepOne" >> beam.ParDo(_KeepOneFn(self.adopt), **side).with_outputs(
                DUPLICATES, main="articles"))
