"""Scale of the stories stage: time and memory at 10,000 and 50,000 articles.

Synthetic articles are built from ../shared texts (pages and PolNeAR train, read by
path, written only to a temporary folder): 70% are collages of random paragraphs of
random texts (distinct articles), 30% copies of an earlier one with 1-3 of the
syndication edits (``evaluation.syndication.EDITS``). Measured, each in a fresh
process, with its peak memory (RSS of the process and its children, sampled):

- ``plain``: the plain logic alone (``transforms.similarity``): signatures, band
  buckets, verification, union-find, no Beam;
- ``stage``: the Beam stage alone (``ClusterStories`` on the local FnApiRunner,
  reading the articles from JSONL);
- ``whole``: ``python -m pipeline --no_nlp`` on the same articles as JSONL text
  records (read, clean, deduplicate, stories, write): the stage's share of that run.

    python benchmarks/stories_scale.py --articles 10000 [--modes plain,stage,whole]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.shared import require, shared_dir  # noqa: E402


def synthetic(n: int, seed: int = 11) -> list[dict]:
    """``n`` article records (``article_id, text, published, hostname, title, url``)."""
    from evaluation.syndication import EDITS, SITES, source_texts

    rng = random.Random(seed)
    paras = [p for _, ps in source_texts(shared_dir()) for p in ps]
    day0 = dt.date(2026, 1, 1)
    out: list[dict] = []
    for i in range(n):
        if out and rng.random() < 0.3:
            base = rng.choice(out)
            body = base["text"].split("\n")
            for e in rng.sample(sorted(EDITS), rng.randint(1, 3)):
                body = EDITS[e](body, rng) if len(body) > 2 else body
        else:
            body = rng.sample(paras, rng.randint(5, 12))
        host = rng.choice(SITES)[1]
        out.append({"article_id": f"a{i:06d}", "text": "\n".join(body),
                    "published": (day0 + dt.timedelta(days=rng.randrange(365))).isoformat(),
                    "hostname": host, "title": f"Article {i}", "url": f"https://{host}/a/{i}"})
    return out


def run_plain(path: Path) -> dict:
    from transforms.similarity import minhash
    from transforms.similarity.lsh import candidate_pairs, cluster

    params = minhash.SignatureParams(5, 32, 4)
    articles = [json.loads(line) for line in path.open()]
    t0 = time.perf_counter()
    sigs = {a["article_id"]: minhash.signature(a["text"], params) for a in articles}
    t1 = time.perf_counter()
    pairs = candidate_pairs(sigs, params)
    t2 = time.perf_counter()
    clusters = cluster(sigs, params, 0.7, pairs)
    t3 = time.perf_counter()
    return {"signatures_s": round(t1 - t0, 1), "candidates_s": round(t2 - t1, 1),
            "verify_and_components_s": round(t3 - t2, 1), "candidate_pairs": len(pairs),
            "stories": len(set(clusters.values()))}


def run_stage(path: Path) -> dict:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from schemas.layout import SIGNATURES, STORIES
    from transforms.similarity.minhash import SignatureParams
    from transforms.stories import ClusterStories, StoryOptions

    def parse(line: str) -> dict:
        a = json.loads(line)
        return {**a, "published": dt.date.fromisoformat(a["published"])}

    t0 = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        out = (p | beam.io.ReadFromText(str(path)) | beam.Map(parse)
               | ClusterStories(StoryOptions(SignatureParams(5, 32, 4), 0.7)))
        for name in (STORIES, SIGNATURES):
            out[name] | f"Count {name}" >> beam.combiners.Count.Globally() | f"Keep {name}" >> beam.Map(
                lambda n, name=name: (path.parent / f"{name}.count").write_text(str(n)))
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 1),
            **{n: int((path.parent / f"{n}.count").read_text()) for n in (STORIES, SIGNATURES)}}


def run_whole(path: Path) -> dict:
    records = path.parent / "records.jsonl"
    with records.open("w") as f:
        for line in path.open():
            a = json.loads(line)
            f.write(json.dumps({"text": a["text"], "url": a["url"], "title": a["title"],
                                "published": a["published"]}) + "\n")
    out = path.parent / "output"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "--input", str(records), "--output", str(out),
                    "--no_nlp", "--progress_seconds", "0"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    summary = json.loads((out / "_run.json").read_text())
    return {"seconds": round(time.perf_counter() - t0, 1), "rows": summary.get("rows")}


def measured(mode: str, path: Path) -> dict:
    """Run one mode in a fresh process; its result with wall time and peak RSS."""
    code = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
            f"from benchmarks.stories_scale import run_{mode}; "
            f"print(json.dumps(run_{mode}(Path({str(path)!r}))))")
    t0 = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    out = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"{mode} failed ({proc.returncode})")
    return {"mode": mode, "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(peak / 2**20), **json.loads(out.strip().splitlines()[-1])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, action="append")
    ap.add_argument("--modes", default="plain,stage,whole")
    args = ap.parse_args()
    require(shared_dir() / "corpus" / "pages")
    for n in args.articles or [10_000]:
        with tempfile.TemporaryDirectory(prefix="stories-scale-") as tmp:
            path = Path(tmp) / "articles.jsonl"
            with path.open("w") as f:
                for a in synthetic(n):
                    f.write(json.dumps(a) + "\n")
            for mode in args.modes.split(","):
                print(json.dumps({"articles": n, **measured(mode, path)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
