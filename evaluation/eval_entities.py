"""Score ``transforms.nlp.entities`` on the invented labelled set.

Data: ``evaluation/data/entities_labelled.jsonl``, one invented article a line:
``{id, text, entities: [{name, label}], mentions: [{start, end, text, name, label}]}``
(gold mention offsets are end-exclusive; titles, "the" and possessives are outside them).

Metrics (micro over all articles):
* entity precision / recall / F1 of distinct (name, label) pairs per article;
* canonicalisation accuracy: share of gold mentions for which a predicted mention
  overlaps the gold span and carries the gold canonical name (a missed mention counts
  as wrong), and the same with the label also required.

Thresholds (exit 1 when any is missed): precision >= 0.80, recall >= 0.80,
canonicalisation accuracy >= 0.85. Usage: ``python evaluation/eval_entities.py [--data F]``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.nlp.entities import link_entities  # noqa: E402

DEFAULT_DATA = ROOT / "evaluation" / "data" / "entities_labelled.jsonl"
THRESHOLDS = {"precision": 0.80, "recall": 0.80, "canon_accuracy": 0.85}


def score(records: list[dict], nlp) -> dict:
    tp = fp = fn = canon_ok = canon_label_ok = gold_mentions = 0
    errors: list[str] = []
    docs = nlp.pipe([r["text"] for r in records])
    for rec, doc in zip(records, docs):
        pred = link_entities(doc)
        gold_pairs = {(e["name"], e["label"]) for e in rec["entities"]}
        pred_pairs = {(m.name, m.label) for m in pred}
        tp += len(gold_pairs & pred_pairs)
        fp += len(pred_pairs - gold_pairs)
        fn += len(gold_pairs - pred_pairs)
        errors += [f"{rec['id']} FP {p}" for p in sorted(pred_pairs - gold_pairs)]
        errors += [f"{rec['id']} FN {p}" for p in sorted(gold_pairs - pred_pairs)]
        for g in rec["mentions"]:
            assert rec["text"][g["start"]:g["end"]] == g["text"], g
            gold_mentions += 1
            hits = [m for m in pred if m.start < g["end"] and g["start"] < m.end]
            if any(m.name == g["name"] for m in hits):
                canon_ok += 1
                canon_label_ok += any(m.name == g["name"] and m.label == g["label"]
                                      for m in hits)
            else:
                errors.append(f"{rec['id']} MENTION {g['text']!r}@{g['start']} -> "
                              f"{[m.name for m in hits] or 'missed'} (gold {g['name']!r})")
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "articles": len(records), "gold_entities": tp + fn, "pred_entities": tp + fp,
        "precision": round(p, 4), "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
        "gold_mentions": gold_mentions,
        "canon_accuracy": round(canon_ok / gold_mentions, 4) if gold_mentions else 0.0,
        "canon_label_accuracy": round(canon_label_ok / gold_mentions, 4) if gold_mentions else 0.0,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default=None, help="spaCy package (default: transforms.nlp.model)")
    args = ap.parse_args(argv)
    from transforms.nlp.model import load_model
    nlp = load_model(args.model)
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    res = score(records, nlp)
    for err in res.pop("errors"):
        print("  " + err)
    for key, val in res.items():
        print(f"{key:>22}: {val}")
    failed = [k for k, t in THRESHOLDS.items() if res[k] < t]
    res["thresholds"] = THRESHOLDS
    res["passed"] = not failed
    print(json.dumps(res))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
