"""Candidate pairs from LSH band buckets, and the whole clustering in one process
(the reference the Beam stage is built from; used by the evaluation's threshold
curve and the scale benchmark)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from transforms.similarity import minhash
from transforms.similarity.components import UnionFind
from transforms.similarity.minhash import SignatureParams


def bucket_pairs(ids: Iterable[tuple[bool, str]]) -> list[tuple[str, str]]:
    """Candidate pairs of one band bucket of ``(is_new, article_id)``: a star from
    its first member (stored first, then by id) and one from its first new
    member; stored-stored pairs are left out (already clustered). O(m) pairs for
    a bucket of m, never m^2."""
    members = sorted(set(ids))
    new = [a for is_new, a in members if is_new]
    if not new:
        return []
    pairs = {tuple(sorted((members[0][1], a))) for is_new, a in members[1:] if is_new}
    pairs |= {tuple(sorted((new[0], a))) for a in new[1:]}
    return sorted(pairs)


def candidate_pairs(signatures: dict[str, np.ndarray], params: SignatureParams
                    ) -> set[tuple[str, str]]:
    """Distinct candidate pairs of a set of signatures (all new)."""
    buckets: dict[str, list] = defaultdict(list)
    for article_id, sig in signatures.items():
        for key in minhash.band_keys(sig, params):
            buckets[key].append((True, article_id))
    return {pair for members in buckets.values() if len(members) > 1
            for pair in bucket_pairs(members)}


def cluster(signatures: dict[str, np.ndarray], params: SignatureParams, threshold: float,
            pairs: set[tuple[str, str]] | None = None) -> dict[str, str]:
    """``article_id -> component key`` (its smallest member id) of every article;
    ``pairs``: candidates computed already (to sweep thresholds)."""
    uf = UnionFind()
    for article_id in signatures:
        uf.find(article_id)
    for a, b in candidate_pairs(signatures, params) if pairs is None else pairs:
        if minhash.estimated_jaccard(signatures[a], signatures[b]) >= threshold:
            uf.union(a, b)
    groups: dict[str, list[str]] = defaultdict(list)
    for article_id in signatures:
        groups[uf.find(article_id)].append(article_id)
    return {a: min(g) for g in groups.values() for a in g}
