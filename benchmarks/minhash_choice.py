"""Which MinHash implementation: ``datasketch.MinHash`` or a numpy-only one.

Both hash each 5-word shingle in Python and apply ``num_perm`` universal hashes in
numpy; this measures signatures per second on ../shared page texts.
``python benchmarks/minhash_choice.py [--repeat 3]``
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation.shared import require, shared_dir  # noqa: E402
from transforms.similarity.minhash import SignatureParams, signature  # noqa: E402
from transforms.similarity.shingles import shingles  # noqa: E402

_P = np.uint64((1 << 61) - 1)


def numpy_signature(text: str, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """The numpy-only alternative: BLAKE2b-32 per shingle, same (a h + b) mod p family."""
    hv = np.fromiter((int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
                      for g in shingles(text, k)), dtype=np.uint64)
    return (np.bitwise_and((np.outer(hv, a) + b) % _P, np.uint64(0xFFFFFFFF))).min(axis=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pages = require(shared_dir() / "corpus" / "pages")
    texts = [p.read_text(encoding="utf-8") for p in sorted(pages.glob("*.txt"))]
    params = SignatureParams(shingle_words=5, bands=32, rows=4)
    rng = np.random.RandomState(1)
    a = rng.randint(1, int(_P), size=params.num_perm, dtype=np.uint64)
    b = rng.randint(0, int(_P), size=params.num_perm, dtype=np.uint64)
    for name, fn in [("datasketch", lambda t: signature(t, params)),
                     ("numpy", lambda t: numpy_signature(t, a, b, params.shingle_words))]:
        best = min(_time(fn, texts) for _ in range(args.repeat))
        print(f"{name:10s} {len(texts) / best:8.0f} signatures/s ({len(texts)} texts, best of {args.repeat})")
    return 0


def _time(fn, texts) -> float:
    started = time.perf_counter()
    for t in texts:
        fn(t)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
