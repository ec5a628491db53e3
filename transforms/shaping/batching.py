"""Batching: batches of elements of similar size, sorted within a bounded window.

Beam's ``SortAndBatchElements`` sorts a whole bundle before it emits a batch.
The local runner hands each worker its whole share of a stage as one bundle, so
a worker would hold every article it will annotate: memory that grows with the
input. ``SortedBatches`` sorts at most ``window`` elements at a time (and at
most ``window_weight`` of them), so a worker holds a few batches' worth,
however large the input. ``first``: the first window a worker sorts holds that
many elements, and each next one twice as many up to ``window``, so the stage after
gets its first batch soon (a parse that waits for batches cleaned beside it).
"""
from __future__ import annotations

from typing import Any, Callable

import apache_beam as beam
from apache_beam.transforms import window as beam_window


def cut_batches(elements: list, size: int, weight: float,
                weight_fn: Callable[[Any], float]) -> list[list]:
    """``elements`` sorted by weight (light first), cut into batches of at most
    ``size`` elements and ``weight`` in total (an element heavier than ``weight``
    goes alone)."""
    batches: list[list] = []
    batch: list = []
    load = 0.0
    for element in sorted(elements, key=weight_fn):
        w = weight_fn(element)
        if batch and (len(batch) >= size or load + w > weight):
            batches.append(batch)
            batch, load = [], 0.0
        batch.append(element)
        load += w
    if batch:
        batches.append(batch)
    return batches


class _SortedBatchesFn(beam.DoFn):
    """Buffers at most ``window`` elements (``window_weight`` in total), then
    emits them as ``cut_batches``; global window only. The first windows of a
    worker's DoFn are smaller (``first``, doubling)."""

    def __init__(self, size: int, weight: float, weight_fn: Callable[[Any], float],
                 window: int, window_weight: float, first: int | None = None):
        self.size, self.weight, self.weight_fn = size, weight, weight_fn
        self.window, self.window_weight = window, window_weight
        self.first = first

    def setup(self):
        self._cap = min(self.first or self.window, self.window)

    def start_bundle(self):
        self._buffer: list = []
        self._load = 0.0

    def process(self, element):
        self._buffer.append(element)
        self._load += self.weight_fn(element)
        if len(self._buffer) >= self._cap or \
                self._load >= self.window_weight * self._cap / self.window:
            self._cap = min(2 * self._cap, self.window)
            yield from self._flush()

    def finish_bundle(self):
        yield from self._flush()

    def _flush(self):
        buffer, self._buffer, self._load = self._buffer, [], 0.0
        for batch in cut_batches(buffer, self.size, self.weight, self.weight_fn):
            yield beam_window.GlobalWindows.windowed_value_at_end_of_window(batch)


class SortedBatches(beam.PTransform):
    """Elements -> lists of at most ``size`` elements and ``weight`` in total,
    of similar weight: sorted within windows of ``windows`` batches' worth.
    Windowed (streaming) input falls back to ``SortAndBatchElements``, whose
    bundles are small there."""

    def __init__(self, size: int, weight: float, weight_fn: Callable[[Any], float],
                 windows: int = 8, first: int | None = None):
        super().__init__()
        self.size, self.weight, self.weight_fn = size, weight, weight_fn
        self.windows, self.first = windows, first

    def expand(self, pcoll):
        if not pcoll.windowing.is_default():
            return pcoll | beam.SortAndBatchElements(
                min_batch_size=1, max_batch_size=self.size,
                max_batch_weight=max(1, int(self.weight)), element_size_fn=self.weight_fn)
        return pcoll | beam.ParDo(_SortedBatchesFn(
            self.size, self.weight, self.weight_fn, self.size * self.windows,
            self.weight * self.windows, self.first))
