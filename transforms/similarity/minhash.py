"""MinHash signatures of shingle sets and locality-sensitive band keys.

Signatures come from ``datasketch.MinHash`` (scheme ``affine32``) with its
documented, fixed hash family: each shingle's UTF-8 bytes hashed by SHA-1 (first
4 bytes, little endian: ``datasketch.hashfunc.sha1_hash32``), mixed by the
MurmurHash3 finalizer, then ``num_perm`` affine maps ``a * h + b mod 2^32``
(``a`` odd) with ``a, b`` drawn from ``numpy.random.RandomState(seed)``. Nothing depends on Python's ``hash()``, so
a signature is the same in every process, on every runner and in every run:
stored signatures (the ``signatures`` table) stay comparable with new ones as
long as ``SignatureParams`` are the same.

Band keys: the signature cut into ``bands`` bands of ``rows`` values; two
articles are candidates when any band is equal. The probability of that for
Jaccard ``s`` is ``1 - (1 - s^rows)^bands``.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib

import numpy as np

from transforms.similarity.shingles import shingles

SEED = 1  # datasketch's default seed: part of the stored signatures' identity
SCHEME = "affine32"


@dataclasses.dataclass(frozen=True)
class SignatureParams:
    """What a signature depends on (defaults: ``pipeline.options``); ``tag`` is
    stored with each signature."""

    shingle_words: int
    bands: int
    rows: int

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def tag(self) -> str:
        return f"datasketch-affine32-sha1-seed{SEED}-k{self.shingle_words}-p{self.num_perm}"


def _minhash():
    """datasketch's ``MinHash``, imported on first use: the package imports scipy (0.4 s
    of CPU), which a launcher that only builds the pipeline does not need."""
    from datasketch import MinHash

    return MinHash


@functools.lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    return _minhash()(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations


def signature(text: str, params: SignatureParams) -> np.ndarray | None:
    """The MinHash signature (``num_perm`` uint32) of ``text``'s shingles; None
    for a text without words."""
    grams = shingles(text, params.shingle_words)
    if not grams:
        return None
    m = _minhash()(num_perm=params.num_perm, seed=SEED, scheme=SCHEME,
                   permutations=_permutations(params.num_perm))
    m.update_batch([g.encode("utf-8") for g in grams])
    return m.hashvalues.astype("<u4")


def to_bytes(sig: np.ndarray) -> bytes:
    """Storage form: ``num_perm`` little-endian uint32."""
    return sig.astype("<u4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4")


def band_keys(sig: np.ndarray, params: SignatureParams) -> list[str]:
    """One key per band: band index and a BLAKE2b digest of its rows."""
    r = params.rows
    return [f"{i:02d}:" + hashlib.blake2b(sig[i * r:(i + 1) * r].tobytes(), digest_size=8).hexdigest()
            for i in range(params.bands)]


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal positions of two signatures: an unbiased Jaccard estimate
    (standard error ``sqrt(J (1 - J) / num_perm)``)."""
    if len(a) != len(b):
        raise ValueError("signatures of different lengths")
    return float(np.count_nonzero(a == b)) / len(a)


def candidate_probability(similarity: float, params: SignatureParams) -> float:
    """Probability that two sets of Jaccard ``similarity`` share a band."""
    return 1.0 - (1.0 - similarity ** params.rows) ** params.bands
