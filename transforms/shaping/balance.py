"""Balance: group elements into bins of equal weight before an expensive stage.

A runner that splits a stage's input statically finishes the stage when its
busiest worker does. Beam's local runner is one: with ``direct_num_workers=N``
it hands worker k every N-th key of a grouped input, whatever each key weighs.
After a ``Reshuffle`` (random keys) a few long articles can leave one worker
with far more text than the other; on the 140 shared pages a random split of
the articles is typically 5% and at worst 12% off even, and the files feeding
trafilatura are worse.

``BalancedGroups`` keys every element by a bin planned from the weights of
all of them (largest first into the lightest bin), so bins weigh the same,
and there are a multiple of ``multiple`` bins: any static split of whole bins
over 1, 2, 4 or 8 workers is then even too. A runner with dynamic work
rebalancing (Dataflow) loses nothing: the bins are just keys. Past
``max_planned`` elements the plan is not kept and bins come from a hash of the
key: at that size random bins are even enough, and the side input stays small.
"""
from __future__ import annotations

import heapq
import math
import zlib
from typing import Any, Callable, Hashable, Iterable

import apache_beam as beam

MULTIPLE = 8
MAX_PLANNED = 50_000


def bin_count(count: int, total_weight: float, bin_weight: float, bin_size: int,
              multiple: int = MULTIPLE) -> int:
    """Bins for ``count`` elements of ``total_weight``: enough that a bin holds
    about ``bin_weight`` and ``bin_size`` elements at most, a multiple of ``multiple``."""
    need = max(1, math.ceil(total_weight / bin_weight) if bin_weight else 1,
               math.ceil(count / bin_size) if bin_size else 1)
    return multiple * math.ceil(need / multiple)


def plan_bins(weights: Iterable[tuple[Hashable, float]], bins: int) -> dict[Hashable, int]:
    """Longest-processing-time-first: each element, heaviest first, goes to the
    lightest bin so far (ties: the lowest bin). Deterministic for equal input."""
    heap = [(0.0, b) for b in range(bins)]
    plan = {}
    for key, weight in sorted(weights, key=lambda kw: (-kw[1], str(kw[0]))):
        load, b = heapq.heappop(heap)
        plan[key] = b
        heapq.heappush(heap, (load + weight, b))
    return plan


def hash_bin(key: str, bins: int) -> int:
    """A bin from the key alone (the same in every process, unlike ``hash``)."""
    return zlib.crc32(str(key).encode("utf-8")) % bins


class PlanBinsFn(beam.CombineFn):
    """``(key, weight)`` pairs -> ``{"bins": n, "plan": {key: bin} or None}``."""

    def __init__(self, bin_weight: float, bin_size: int, multiple: int = MULTIPLE,
                 max_planned: int = MAX_PLANNED):
        self.bin_weight, self.bin_size = bin_weight, bin_size
        self.multiple, self.max_planned = multiple, max_planned

    def create_accumulator(self):
        return {"count": 0, "total": 0.0, "items": []}

    def add_input(self, acc, item):
        acc["count"] += 1
        acc["total"] += item[1]
        if acc["items"] is not None:
            acc["items"].append(item)
            if len(acc["items"]) > self.max_planned:
                acc["items"] = None
        return acc

    def merge_accumulators(self, accumulators):
        out = self.create_accumulator()
        for acc in accumulators:
            out["count"] += acc["count"]
            out["total"] += acc["total"]
            if out["items"] is not None and acc["items"] is not None:
                out["items"].extend(acc["items"])
            else:
                out["items"] = None
        if out["items"] is not None and len(out["items"]) > self.max_planned:
            out["items"] = None
        return out

    def extract_output(self, acc):
        bins = bin_count(acc["count"], acc["total"], self.bin_weight, self.bin_size,
                         self.multiple)
        plan = None if acc["items"] is None else plan_bins(acc["items"], bins)
        return {"bins": bins, "plan": plan}


def assign_bin(element: Any, plan: dict, key_fn: Callable[[Any], str]) -> tuple[int, Any]:
    key = key_fn(element)
    if plan["plan"] is not None and key in plan["plan"]:
        return plan["plan"][key], element
    return hash_bin(key, plan["bins"]), element


class BalancedGroups(beam.PTransform):
    """Elements -> ``(bin, elements)`` groups of about equal total weight.

    ``key_fn`` must be unique per element (it keys the plan); ``weight_fn`` is
    its expected cost. Bins hold about ``bin_weight`` and ``bin_size``
    elements at most (see ``bin_count``).
    """

    def __init__(self, key_fn: Callable[[Any], str], weight_fn: Callable[[Any], float],
                 bin_weight: float, bin_size: int, multiple: int = MULTIPLE,
                 max_planned: int = MAX_PLANNED):
        super().__init__()
        self.key_fn, self.weight_fn = key_fn, weight_fn
        self.combine = PlanBinsFn(bin_weight, bin_size, multiple, max_planned)

    def expand(self, pcoll):
        key_fn, weight_fn = self.key_fn, self.weight_fn
        plan = (pcoll
                | "Weigh" >> beam.Map(lambda x: (key_fn(x), weight_fn(x)))
                | "Plan" >> beam.CombineGlobally(self.combine))
        return (pcoll
                | "ToBin" >> beam.Map(assign_bin, beam.pvalue.AsSingleton(plan), key_fn)
                | "Group" >> beam.GroupByKey())
