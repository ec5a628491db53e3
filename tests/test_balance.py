"""Balanced bins: the plan (plain functions) and BalancedGroups on a real runner."""
from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from transforms.shaping.balance import (BalancedGroups, PlanBinsFn, assign_bin, bin_count,
                                hash_bin, plan_bins)


def _heavy_tailed(n: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"a{i}": int(rng.paretovariate(1.3) * 1000) for i in range(n)}


def _loads(plan: dict, weights: dict, bins: int) -> list[int]:
    loads = [0] * bins
    for key, b in plan.items():
        loads[b] += weights[key]
    return loads


def test_bin_count_is_a_multiple_and_respects_both_bounds():
    assert bin_count(10, 1_000, 300_000, 32) == 8          # small input: the minimum
    assert bin_count(1_000, 10_000, 300_000, 32) == 32     # bounded by count (1000/32 -> 32)
    assert bin_count(100, 10_000_000, 300_000, 32) == 40   # bounded by weight (34 -> 40)
    assert bin_count(0, 0, 300_000, 32, multiple=4) == 4


def test_plan_spreads_a_heavy_tailed_input_evenly():
    weights = _heavy_tailed(140)
    plan = plan_bins(weights.items(), 8)
    assert set(plan) == set(weights)
    loads = _loads(plan, weights, 8)
    # LPT: no bin exceeds the mean by more than the heaviest element it could hold.
    assert max(loads) - sum(loads) / 8 <= max(weights.values())
    # Any static split of whole bins over 2 workers (4 + 4 bins) is close to even,
    # unlike a random split of the elements themselves.
    halves = [sum(loads[0::2]), sum(loads[1::2])]
    assert max(halves) / (sum(halves) / 2) < 1.02
    assert plan == plan_bins(list(weights.items())[::-1], 8)  # order-independent


def test_an_element_heavier_than_the_rest_gets_a_bin_of_its_own():
    weights = {"big": 1_000, **{f"s{i}": 10 for i in range(20)}}
    plan = plan_bins(weights.items(), 8)
    assert [k for k, b in plan.items() if b == plan["big"]] == ["big"]


def test_past_max_planned_the_plan_is_dropped_and_bins_come_from_the_key():
    fn = PlanBinsFn(bin_weight=100, bin_size=4, multiple=2, max_planned=5)
    acc = fn.create_accumulator()
    for i in range(4):
        acc = fn.add_input(acc, (f"k{i}", 10))
    other = fn.add_input(fn.create_accumulator(), ("k9", 10))
    small = fn.extract_output(fn.merge_accumulators([acc, other]))
    assert small["plan"] is not None and set(small["plan"]) == {"k0", "k1", "k2", "k3", "k9"}
    for i in range(4, 8):
        acc = fn.add_input(acc, (f"k{i}", 10))
    big = fn.extract_output(fn.merge_accumulators([acc, other]))
    assert big["plan"] is None and big["bins"] == 4
    assert assign_bin("k5", big, str) == (hash_bin("k5", 4), "k5")
    assert hash_bin("k5", 4) == hash_bin("k5", 4) and 0 <= hash_bin("k5", 4) < 4


@pytest.mark.parametrize("n", [1, 37, 140])
def test_balanced_groups_on_a_real_runner(n):
    from apache_beam.testing.util import assert_that

    weights = _heavy_tailed(n, seed=n)

    def check(groups):
        keys = sorted(k for _, ks in groups for k in ks)
        assert keys == sorted(weights)  # every element exactly once
        assert len(groups) <= 8 and all(0 <= b < 8 for b, _ in groups)
        loads = [sum(weights[k] for k in ks) for _, ks in groups]
        assert max(loads) - sum(weights.values()) / 8 <= max(weights.values())

    with beam.Pipeline(runner=FnApiRunner()) as p:
        groups = (p | beam.Create(sorted(weights.items()))
                  | BalancedGroups(lambda kv: kv[0], lambda kv: kv[1], bin_weight=10**9,
                                   bin_size=1000)
                  | beam.MapTuple(lambda b, items: (b, sorted(k for k, _ in items))))
        assert_that(groups, check)
