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
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.label_pages import OUT as PAGES_LABELLED, load_pages, norm_name  # noqa: E402
from evaluation.shared import shared_dir  # noqa: E402
from transforms.nlp.entities import link_entities  # noqa: E402

PAGE_LABELS = ("PERSON", "ORG", "GPE")
PAGE_THRESHOLDS = {"f1": 0.85}

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


def score_pages(pages: list[dict], docs) -> dict:
    """(name, label) F1 of distinct PERSON/ORG/GPE entities on the labelled real pages
    whose entities are complete; names compared after case/Unicode normalisation.
    ``label_errors`` counts entities found by name with the wrong label, by
    (gold label -> predicted label): the issue's class 5."""
    tp = fp = fn = 0
    name_tp = name_fp = name_fn = 0
    confusion: dict[str, int] = {}
    errors: list[str] = []
    for page, doc in zip(pages, docs):
        pred = {(norm_name(m.name), m.label) for m in link_entities(doc)
                if m.label in PAGE_LABELS}
        gold = {(norm_name(e["name"]), e["label"]) for e in page["entities"]}
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
        gold_names, pred_names = {n for n, _ in gold}, {n for n, _ in pred}
        name_tp += len(gold_names & pred_names)
        name_fp += len(pred_names - gold_names)
        name_fn += len(gold_names - pred_names)
        gold_label = dict(gold)
        for n, lab in sorted(pred - gold):
            if n in gold_label and (n, gold_label[n]) not in pred:
                key = f"{gold_label[n]}->{lab}"
                confusion[key] = confusion.get(key, 0) + 1
            errors.append(f"{page['page']} FP {n!r}/{lab}")
        errors += [f"{page['page']} FN {n!r}/{lab}" for n, lab in sorted(gold - pred)]

    def f1(t: int, p_: int, n_: int) -> tuple[float, float, float]:
        p = t / (t + p_) if t + p_ else 0.0
        r = t / (t + n_) if t + n_ else 0.0
        return round(p, 4), round(r, 4), round(2 * p * r / (p + r), 4) if p + r else 0.0
    p, r, f = f1(tp, fp, fn)
    _, _, nf = f1(name_tp, name_fp, name_fn)
    return {"pages": len(pages), "gold_entities": tp + fn, "pred_entities": tp + fp,
            "precision": p, "recall": r, "f1": f, "name_only_f1": nf,
            "label_errors": dict(sorted(confusion.items())), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default=None, help="spaCy package (default: transforms.nlp.model)")
    ap.add_argument("--pages", default=str(PAGES_LABELLED),
                    help="labelled real pages (offsets into ../shared/corpus/pages); '' skips")
    ap.add_argument("--shared", default=None, help="shared/ directory")
    ap.add_argument("--enforce-pages", action="store_true",
                    help="exit 1 when the real-page target is missed")
    ap.add_argument("--errors", action="store_true", help="print every error")
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
    pages_root = shared_dir(args.shared) / "corpus" / "pages"
    if args.pages and not pages_root.is_dir():
        required = os.environ.get("REQUIRE_SHARED") == "1"
        print(f"{'FAIL' if required else 'SKIP'}: real pages: {pages_root} is absent")
        failed += ["real_pages"] if required else []
    elif args.pages:
        pages = [p for p in load_pages(Path(args.pages), args.shared) if p["entities_complete"]]
        res["real_pages"] = page_res = score_pages(pages, nlp.pipe(p["text"] for p in pages))
        page_errors = page_res.pop("errors")
        if args.errors:
            for err in page_errors:
                print("  " + err)
        print("real pages (PERSON/ORG/GPE, entities complete):")
        for key, val in page_res.items():
            print(f"{key:>22}: {val}")
        if args.enforce_pages:
            failed += [f"real_pages.{k}" for k, t in PAGE_THRESHOLDS.items() if page_res[k] < t]
    res["thresholds"] = THRESHOLDS
    res["passed"] = not failed
    print(json.dumps(res))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
