"""Deduplicate: articles with the same content hash are kept once per run.

The kept copy is the one with the smallest ``source``, so every runner keeps
the same one; the others become rows of the ``duplicates`` table.
"""
from __future__ import annotations

from typing import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

STAGE = "dedupe"
DUPLICATES = "duplicates"


def pick_original(copies: Iterable[dict]) -> tuple[dict, list[dict]]:
    """The copy to keep and the duplicate rows of the others."""
    ordered = sorted(copies, key=lambda a: a["source"])
    kept = ordered[0]
    return kept, [{"source": other["source"], "content_hash": other["content_hash"],
                   "duplicate_of": kept["article_id"],
                   "duplicate_of_source": kept["source"]} for other in ordered[1:]]


class _KeepOneFn(beam.DoFn):
    def __init__(self):
        self.duplicates = Metrics.counter(STAGE, "duplicates")

    def process(self, keyed: tuple[str, Iterable[dict]]):
        kept, duplicates = pick_original(keyed[1])
        yield kept
        for row in duplicates:
            self.duplicates.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class Deduplicate(beam.PTransform):
    """Articles -> unique articles (main output) and duplicate rows (``duplicates``)."""

    def expand(self, articles):
        return (
            articles
            | "ByContentHash" >> beam.WithKeys(lambda a: a["content_hash"])
            | "Group" >> beam.GroupByKey()
            | "KeepOne" >> beam.ParDo(_KeepOneFn()).with_outputs(DUPLICATES, main="articles"))
