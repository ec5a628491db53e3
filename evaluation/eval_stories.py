"""Story clustering on generated syndication cases (``evaluation.syndication``).

Generates the cases from ../shared texts into a temporary folder, runs the real
pipeline on them (``--no_nlp``: stories need no parse), reads ``articles`` and
``duplicates`` back with DuckDB and scores ``story_id`` pairwise against the
gold: over all pairs of pages, precision = pairs put together that belong
together / pairs put together; recall = pairs put together / pairs that belong
together. A duplicate row takes the story of the article it duplicates. A trap
is merged when it shares a story with any page of another gold story.

``--curve`` adds precision/recall per threshold from the same extracted texts
(the plain logic of ``transforms.similarity``, the stage's other parameters),
and checks that it reproduces the pipeline's clusters at the threshold used.

    python -m evaluation.eval_stories [--curve] [--seed 17] [pipeline options]

Prints a table and a final JSON line; exits 1 under a target.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb

from evaluation import syndication
from evaluation.shared import require, shared_dir
from transforms.similarity import minhash
from transforms.similarity.lsh import candidate_pairs, cluster

TARGETS = {"precision": 0.98, "recall": 0.95, "traps_merged": 0}
CURVE = [0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def pairwise(predicted: dict[str, str], gold: dict[str, str]) -> dict[str, float]:
    """Pairwise precision and recall of a clustering (page -> label) against gold."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(gold), 2):
        same_p = a in predicted and b in predicted and predicted[a] == predicted[b]
        same_g = gold[a] == gold[b]
        tp += same_p and same_g
        fp += same_p and not same_g
        fn += same_g and not same_p
    return {"precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "pairs_true": tp + fn, "pairs_predicted": tp + fp}


def traps_merged(predicted: dict[str, str], cases: dict[str, dict]) -> list[str]:
    """Trap pages whose story holds a page of another gold story."""
    members: dict[str, set[str]] = {}
    for page, story in predicted.items():
        members.setdefault(story, set()).add(cases[page]["story"])
    return sorted(p for p, c in cases.items() if c["kind"] == "trap" and p in predicted
                  and len(members[predicted[p]]) > 1)


def read_output(output: Path) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """``{page file: story_id}`` (duplicates take their original's story) and
    ``{page file: (article_id, text)}`` of the kept articles."""
    con = duckdb.connect()
    arts = con.sql(f"select source, article_id, story_id, text from "
                   f"read_parquet('{output}/articles/**/*.parquet')").fetchall()
    dups = con.sql(f"select source, duplicate_of from "
                   f"read_parquet('{output}/duplicates/**/*.parquet')").fetchall()
    story_of_id = {aid: sid for _, aid, sid, _ in arts}
    stories = {Path(src).name: sid for src, _, sid, _ in arts}
    stories |= {Path(src).name: story_of_id[of] for src, of in dups}
    return stories, {Path(src).name: (aid, text) for src, aid, _, text in arts}


def plain_clusters(texts: dict[str, tuple[str, str]], params: minhash.SignatureParams,
                   thresholds: list[float]) -> list[dict[str, str]]:
    """``{page: component}`` per threshold by the plain logic, on article ids (the
    stage's buckets pick their pivot by id)."""
    sigs = {aid: minhash.signature(t, params) for aid, t in texts.values()}
    sigs = {aid: s for aid, s in sigs.items() if s is not None}
    pairs = candidate_pairs(sigs, params)
    out = []
    for threshold in thresholds:
        by_id = cluster(sigs, params, threshold, pairs)
        out.append({page: by_id.get(aid, aid) for page, (aid, _) in texts.items()})
    return out


def curve(texts: dict[str, tuple[str, str]], gold: dict[str, str], cases: dict[str, dict],
          params: minhash.SignatureParams) -> list[dict]:
    rows = []
    for threshold, predicted in zip(CURVE, plain_clusters(texts, params, CURVE)):
        rows.append({"threshold": threshold, **pairwise(predicted, gold),
                     "traps_merged": len(traps_merged(predicted, cases))})
    return rows


def same_partition(a: dict[str, str], b: dict[str, str]) -> bool:
    def blocks(m):
        by: dict[str, set] = {}
        for k, v in m.items():
            by.setdefault(v, set()).add(k)
        return sorted(sorted(s) for s in by.values())
    return blocks(a) == blocks(b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--curve", action="store_true", help="also print the threshold curve")
    args, pipeline_args = ap.parse_known_args(argv)
    require(shared_dir() / "corpus" / "pages")
    from pipeline.options import NewsOptions
    from pipeline.run import main as run_pipeline
    from transforms.stories import story_options

    with tempfile.TemporaryDirectory(prefix="eval-stories-") as tmp:
        cases = syndication.generate(Path(tmp), seed=args.seed)
        output = Path(tmp) / "output"
        argv = ["--input", str(Path(tmp) / "pages"), "--output", str(output), "--no_nlp",
                "--progress_seconds", "0", *pipeline_args]
        if run_pipeline(argv) != 0:
            print("FAIL: the pipeline run failed")
            return 1
        predicted, texts = read_output(output)
    opts = story_options(NewsOptions(argv))
    gold = {page: c["story"] for page, c in cases.items()}
    result = {"pages": len(cases), "kinds": dict(Counter(c["kind"] for c in cases.values())),
              "pages_without_article": sorted(set(cases) - set(predicted)),
              "stories_gold": len(set(gold.values())), "stories_predicted": len(set(predicted.values())),
              **pairwise(predicted, gold), "traps_merged": traps_merged(predicted, cases),
              "threshold": opts.threshold, "params": opts.params.tag,
              "bands_x_rows": f"{opts.params.bands}x{opts.params.rows}"}
    originals = {c["story"]: p for p, c in cases.items() if c["kind"] == "original"}
    missed = Counter()
    for page, c in cases.items():
        if c["kind"] == "copy" and predicted.get(page) != predicted.get(originals[c["story"]]):
            missed.update(c["edits"])
    result["copies_apart_from_original_by_edit"] = dict(missed)
    if args.curve:
        result["curve"] = curve(texts, gold, cases, opts.params)
        plain = plain_clusters(texts, opts.params, [opts.threshold])[0]
        result["plain_logic_matches_pipeline"] = same_partition(
            plain, {p: s for p, s in predicted.items() if p in texts})
        print(f"{'threshold':>9s} {'precision':>9s} {'recall':>7s} {'traps merged':>12s}")
        for row in result["curve"]:
            print(f"{row['threshold']:9.2f} {row['precision']:9.4f} {row['recall']:7.4f} "
                  f"{row['traps_merged']:12d}")
    failed = (result["precision"] < TARGETS["precision"] or result["recall"] < TARGETS["recall"]
              or result["traps_merged"] or result["pages_without_article"]
              or result.get("plain_logic_matches_pipeline") is False)
    print(("FAIL" if failed else "PASS") + f": stories pairwise precision {result['precision']} "
          f"(target >= {TARGETS['precision']}), recall {result['recall']} (target >= "
          f"{TARGETS['recall']}), traps merged {len(result['traps_merged'])} (target 0); "
          f"{result['stories_predicted']} stories for {result['stories_gold']} gold, {len(cases)} pages")
    print(json.dumps({**result, "targets": TARGETS}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
