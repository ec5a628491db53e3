"""Sorted batches: the plain functions, and SortedBatches on a real runner."""
from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that

from transforms.shaping.batching import SortedBatches, _SortedBatchesFn, cut_batches


def _texts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [f"{i}:" + "x" * int(rng.paretovariate(1.2) * 500) for i in range(n)]


def test_cut_batches_sorts_and_respects_both_bounds():
    texts = _texts(200)
    batches = cut_batches(texts, 8, 20_000, len)
    assert sorted(t for b in batches for t in b) == sorted(texts)
    flat = [t for b in batches for t in b]
    assert [len(t) for t in flat] == sorted(len(t) for t in texts)  # light first
    for batch in batches:
        assert len(batch) <= 8
        assert len(batch) == 1 or sum(map(len, batch)) <= 20_000


def test_an_element_heavier_than_a_batch_goes_alone():
    assert cut_batches(["a" * 50, "b", "c" * 200], 10, 100, len) == [["b", "a" * 50], ["c" * 200]]


def test_the_dofn_holds_one_window_at_a_time():
    fn = _SortedBatchesFn(8, 10_000, len, window=64, window_weight=10**9)
    fn.setup()
    fn.start_bundle()
    out, first_at = [], None
    for i, text in enumerate(_texts(1_000)):
        out.extend(fn.process(text))
        if out and first_at is None:
            first_at = i + 1
    out.extend(fn.finish_bundle())
    assert first_at == 64  # batches leave once a window is full, not at the bundle's end
    batches = [wv.value for wv in out]
    assert sorted(t for b in batches for t in b) == sorted(_texts(1_000))
    assert all(len(b) <= 8 for b in batches)
    by_weight = _SortedBatchesFn(8, 10_000, len, window=10**6, window_weight=20_000)
    by_weight.setup()
    by_weight.start_bundle()
    assert any(list(by_weight.process(t)) for t in _texts(1_000))


def test_a_workers_first_windows_are_small_then_double():
    fn = _SortedBatchesFn(16, 10**9, len, window=16, window_weight=10**9, first=4)
    fn.setup()
    sizes = []
    for bundle in (_texts(40), _texts(40)):  # the ramp is the DoFn's, not each bundle's
        fn.start_bundle()
        for text in bundle:
            sizes += [len(wv.value) for wv in fn.process(text)]
        sizes += [len(wv.value) for wv in fn.finish_bundle()]
    assert sizes == [4, 8, 16, 12, 16, 16, 8]


def test_sorted_batches_on_a_real_runner():
    texts = _texts(700)

    def check(batches):
        flat = [t for b in batches for t in b]
        assert sorted(flat) == sorted(texts)
        assert all(len(b) <= 16 and (len(b) == 1 or sum(map(len, b)) <= 30_000)
                   for b in batches)

    with beam.Pipeline(runner=FnApiRunner()) as p:
        batches = (p | beam.Create(texts, reshuffle=False)
                   | SortedBatches(16, 30_000, len, windows=4))
        assert_that(batches, check)
