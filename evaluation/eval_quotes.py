"""Evaluate quote extraction on PolNeAR (../shared) and on the repo's labelled set.

    python evaluation/eval_quotes.py [--split dev|train|all] [--shared DIR] [--limit N]

PolNeAR (``corpus/quotes/polnear``):

* gold quotes are the attributions with ``is_direct_quote``. Articles annotated by
  several annotators are deduplicated: their direct quotes are clustered across
  annotators (content overlap >= 50% of the shorter one); a cluster is a gold quote
  when at least half of the article's annotators (metadata.tsv) marked it, and then
  it counts once, with the content and source of its first annotator (by id).
  Clusters below that vote count neither for recall nor against precision.
* recall: a gold quote is found when predicted quote spans cover >= 50% of its
  content characters (quotation marks and spaces not counted);
* precision: a predicted quote is correct when >= 50% of its characters lie inside
  the content of ANY gold attribution of the article (direct or indirect, any
  annotator): PolNeAR marks every attribution, so a quote that overlaps none is
  unattributed speech-like text (a title, a scare quote). ``precision_direct``
  counts only direct-quote contents;
* named-speaker accuracy, on found gold quotes whose source's syntactic head is a
  proper noun: the predicted speaker (canonical name, else the mention) contains the
  gold head word ("Tulsa police Chief Chuck Jordan" -> "Jordan"), possessives and
  case ignored. The prediction compared is the one overlapping the gold most.

Labelled set (``evaluation/data/quotes_labelled.jsonl``, invented articles; one JSON
object a line: ``id, cases, text, quotes, non_quotes``, each quote ``quote`` (found in
``text`` in order), ``speaker`` (canonical name or null), ``speaker_label``, ``kind``,
``pronoun``, ``continues_previous``): the same metrics with exact gold spans, plus
canonical full-name accuracy (``speaker`` equal), partial-quote recall (gold
``kind == partial`` found and predicted partial), pronoun-resolution accuracy (gold
quotes whose speaker is a pronoun: full name right), label and continuation accuracy.

Real pages (``evaluation/data/pages_labelled.jsonl``: 43 pages of
``../shared/corpus/pages`` labelled by hand, offsets into each page's ground-truth
``.txt`` with its sha256; built with ``evaluation/label_pages.py``): the extractors run
on the ground-truth text; quote recall/precision/F1 by the 50% character rule above;
speaker accuracy on found quotes: a named source must match the gold canonical name
exactly after case/Unicode normalisation (``full_name_accuracy`` over PERSON sources),
an unnamed one must get no name; the same per error class of issue 14 (quote tags:
pronoun, partial, partial_own_verb, non_person_or_unnamed, relation, shared_surname,
canonical_linking); ``source_label_accuracy`` for non-person sources (ORG/GPE/unnamed)
and ``person_speaker_not_a_person``: predicted PERSON speakers that are no person of
the page's gold entities.

Prints a table and a final JSON line; exits 1 when PolNeAR dev, the labelled set or
the real pages (quote F1 >= 0.93, full-name accuracy >= 0.92) miss their targets. Without ../shared the PolNeAR part prints a skip (exit 1 instead
when REQUIRE_SHARED=1).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.label_pages import OUT as PAGES_LABELLED, load_pages, norm_name  # noqa: E402
from evaluation.shared import shared_dir  # noqa: E402
from transforms.nlp.entities import link_entities  # noqa: E402
from transforms.nlp.quotes import extract_quotes  # noqa: E402

LABELLED = ROOT / "evaluation" / "data" / "quotes_labelled.jsonl"
TARGETS_DEV = {"recall": 0.90, "precision": 0.95, "speaker_accuracy": 0.90}
TARGETS_LABELLED = {"recall": 0.95, "precision": 0.95, "speaker_accuracy": 0.9,
                    "full_name_accuracy": 0.9, "partial_recall": 0.9, "pronoun_accuracy": 0.85}
_MARKS = set("\"“”„«»'‘’ \n\t")


# ---------------------------------------------------------------- helpers
def _chars(text: str, spans: list[tuple[int, int]]) -> set[int]:
    return {i for a, b in spans for i in range(a, b) if text[i] not in _MARKS}


def _norm(word: str) -> str:
    w = word.replace("’", "'").strip(".,;:()\"'“”").lower()
    return w[:-2] if w.endswith("'s") else w


def _words(text: str) -> set[str]:
    return {_norm(w) for w in text.replace("-", " ").split()} - {""}


def _pred_words(row: dict) -> set[str]:
    return _words(row.get("speaker") or row.get("speaker_mention") or "")


def _best(g: set[int], preds: list[dict]) -> tuple[dict | None, float]:
    best, score = None, 0.0
    for p in preds:
        ov = len(g & set(range(p["start"], p["end"])))
        if ov > score:
            best, score = p, ov
    return best, score


class Counts:
    """Accumulates recall / precision / speaker counts."""

    def __init__(self) -> None:
        self.c: dict[str, int] = defaultdict(int)

    def ratio(self, a: str, b: str) -> float | None:
        return round(self.c[a] / self.c[b], 4) if self.c[b] else None

    def summary(self) -> dict:
        out = {"recall": self.ratio("found", "gold"),
               "precision": self.ratio("correct", "pred"),
               "precision_direct": self.ratio("correct_direct", "pred"),
               "speaker_accuracy": self.ratio("spk_ok", "spk_n"),
               "speaker_accuracy_end_to_end": self.ratio("spk_ok", "spk_all")}
        for extra in ("full_name", "partial", "pronoun", "label", "continues"):
            if self.c[extra + "_n"]:
                out[{"full_name": "full_name_accuracy", "partial": "partial_recall",
                     "pronoun": "pronoun_accuracy", "label": "label_accuracy",
                     "continues": "continues_accuracy"}[extra]] = self.ratio(
                         extra + "_ok", extra + "_n")
        out.update(gold=self.c["gold"], predicted=self.c["pred"])
        return out


# ---------------------------------------------------------------- PolNeAR
def _annotators(root: Path) -> dict[str, int]:
    with open(root / "metadata.tsv", encoding="utf-8") as f:
        return {r["filename"]: len(r["annotators"].split("|"))
                for r in csv.DictReader(f, delimiter="\t")}


def load_polnear(root: Path, split: str, limit: int | None) -> list[dict]:
    """Articles with deduplicated gold direct quotes and all attribution contents."""
    n_ann = _annotators(root)
    by_art: dict[tuple[str, str], list[dict]] = defaultdict(list)
    with open(root / "attributions.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if split in ("all", r["split"]):
                by_art[(r["split"], r["article"])].append(r)
    names = sorted((sp, f.stem) for sp in (["train", "dev"] if split == "all" else [split])
                   for f in (root / sp / "text").glob("*.txt"))
    arts = []
    for (sp, name) in names[:limit]:
        rows = by_art[(sp, name)]
        text = (root / sp / "text" / f"{name}.txt").read_text(encoding="utf-8")
        all_content = _chars(text, [tuple(s) for r in rows for s in r["content_spans"]])
        direct = sorted((r for r in rows if r["is_direct_quote"]),
                        key=lambda r: (r["annotator"], r["content_spans"][0][0]))
        clusters: list[list[tuple[dict, set[int]]]] = []
        for r in direct:
            cs = _chars(text, [tuple(s) for s in r["content_spans"]])
            for cl in clusters:
                ref = cl[0][1]
                if cs and len(cs & ref) >= 0.5 * min(len(cs), len(ref)):
                    cl.append((r, cs))
                    break
            else:
                clusters.append([(r, cs)])
        need = n_ann.get(name, 1) / 2
        gold = [cl[0] for cl in clusters if len({r["annotator"] for r, _ in cl}) >= need]
        arts.append({"name": name, "text": text, "gold": gold, "all_content": all_content,
                     "direct_content": set().union(*(cs for _, cs in gold)) if gold else set()})
    return arts


def _gold_keys(doc, spans: list[list[int]]) -> set[str] | None:
    """Head word(s) of a named gold source, or None when the source is not a name."""
    toks = [t for a, b in spans for t in doc.char_span(a, b, alignment_mode="expand") or []]
    ids = {t.i for t in toks}
    heads = [t for t in toks if t.head.i not in ids or t.head is t]
    if not heads:
        return None
    head = heads[0]
    if head.tag_ == "POS" and head.head.i in ids:
        head = head.head
    if head.tag_ not in ("NNP", "NNPS"):
        return None
    chain = [head, *head.conjuncts]
    chain += [c for h in chain for c in h.children if c.dep_ in ("compound", "flat")
              and c.tag_ in ("NNP", "NNPS") and c.i in ids]
    return set().union(*(_words(t.text) for t in chain if t.tag_ in ("NNP", "NNPS")))


def eval_polnear(arts: list[dict], docs: Iterable, errors: int = 0) -> dict:
    """Metrics over ``arts`` with their parsed ``docs`` (same order)."""
    counts = Counts()
    shown = 0
    for art, doc in zip(arts, docs):
        preds = extract_quotes(doc, link_entities(doc))
        covered = set().union(*(set(range(p["start"], p["end"])) for p in preds)) \
            if preds else set()
        for p in preds:
            ps = set(range(p["start"], p["end"]))
            counts.c["pred"] += 1
            ok = len(ps & art["all_content"]) >= 0.5 * len(ps)
            counts.c["correct"] += ok
            counts.c["correct_direct"] += len(ps & art["direct_content"]) >= 0.5 * len(ps)
            if not ok and shown < errors:
                shown += 1
                print(f"FP {art['name']}: {p['quote'][:100]!r}", file=sys.stderr)
        for r, cs in art["gold"]:
            counts.c["gold"] += 1
            found = bool(cs) and len(cs & covered) >= 0.5 * len(cs)
            counts.c["found"] += found
            if not found and shown < errors:
                shown += 1
                print(f"FN {art['name']}: {r['content'][:100]!r}", file=sys.stderr)
            keys = _gold_keys(doc, r["source_spans"]) if r["source_spans"] else None
            if keys is None:
                continue
            counts.c["spk_all"] += 1
            if not found:
                continue
            best, _ = _best(cs, preds)
            # the gold head name in the predicted speaker, or the predicted surname
            # among the gold source's proper nouns ("Speaker ... Rep. Paul Ryan")
            pw = _pred_words(best)
            surname = (best.get("speaker") or "").replace("-", " ").split()[-1:]
            ok = bool(keys & pw) or bool(surname and _norm(surname[0]) in _words(r["source"]))
            counts.c["spk_n"] += 1
            counts.c["spk_ok"] += ok
            if not ok and shown < errors:
                shown += 1
                print(f"SPK {art['name']}: gold={r['source']!r} pred={best['speaker']!r}/"
                      f"{best['speaker_mention']!r} ({best['rule']}) "
                      f"{r['content'][:60]!r}", file=sys.stderr)
    return counts.summary()


# ---------------------------------------------------------------- labelled set
def load_labelled(path: Path) -> list[dict]:
    arts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            a = json.loads(line)
            pos = 0
            for q in a["quotes"]:
                start = a["text"].find(q["quote"], pos)
                if start < 0:
                    raise ValueError(f"{a['id']}: quote not in text: {q['quote']!r}")
                q["start"], q["end"] = start, start + len(q["quote"])
                pos = q["end"]
            arts.append(a)
    return arts


def eval_labelled(arts: list[dict], docs: Iterable, errors: int = 0) -> dict:
    """Metrics over the labelled articles with their parsed ``docs``."""
    counts = Counts()
    for art, doc in zip(arts, docs):
        preds = extract_quotes(doc, link_entities(doc))
        gold_chars = set().union(*(set(range(q["start"], q["end"])) for q in art["quotes"])) \
            if art["quotes"] else set()
        for p in preds:
            counts.c["pred"] += 1
            ps = set(range(p["start"], p["end"]))
            ok = len(ps & gold_chars) >= 0.5 * len(ps)
            counts.c["correct"] += ok
            counts.c["correct_direct"] += ok
            if not ok and errors:
                print(f"FP {art['id']}: {p['quote']!r}", file=sys.stderr)
        for q in art["quotes"]:
            g = set(range(q["start"], q["end"]))
            best, ov = _best(g, preds)
            found = ov >= 0.5 * len(g)
            counts.c["gold"] += 1
            counts.c["found"] += found
            if q.get("kind") == "partial":
                counts.c["partial_n"] += 1
                counts.c["partial_ok"] += found and best["kind"] == "partial"
            named = q.get("speaker") is not None
            counts.c["spk_all"] += named
            checks = {}
            if found:
                surname = _norm(q["speaker"].split()[-1]) if named else None
                checks["spk"] = (surname in _pred_words(best)) if named else None
                checks["full_name"] = best["speaker"] == q.get("speaker")
                checks["label"] = best["speaker_label"] == q.get("speaker_label")
                checks["continues"] = best["continues_previous"] == q.get(
                    "continues_previous", False)
                if q.get("pronoun"):
                    checks["pronoun"] = checks["full_name"]
            for k, v in checks.items():
                if v is None:
                    continue
                counts.c[k + "_n"] += 1
                counts.c[k + "_ok"] += bool(v)
            if errors and (not found or not all(v is not False for v in checks.values())):
                print(f"MISS {art['id']}: {q['quote'][:50]!r} gold={q.get('speaker')!r} "
                      f"pred={best and best['speaker']!r} {best and best['rule']} "
                      f"{[k for k, v in checks.items() if v is False]} found={found}",
                      file=sys.stderr)
    return counts.summary()


# ---------------------------------------------------------------- real pages
# Tags of the labelled real pages (evaluation/label_pages.py) -> the error classes.
PAGE_CLASSES = {"pronoun": "p", "partial": "part", "partial_own_verb": "v",
                "non_person_or_unnamed": "n", "relation": "r", "shared_surname": "s",
                "canonical_linking": "c"}
TARGETS_PAGES = {"quote_f1": 0.93, "full_name_accuracy": 0.92}


def _speaker_ok(gold: dict, pred: dict) -> bool:
    """Gold named source: the same canonical name; unnamed source: no name given."""
    if gold["speaker"] is None:
        return pred.get("speaker") is None
    return norm_name(pred.get("speaker")) == norm_name(gold["speaker"])


def _page_quote_counts(page: dict, preds: list[dict], c: dict, errors: list[str]) -> None:
    text = page["text"]
    gold = [q for q in page["quotes"] if q["quote"]]
    gold_chars = set().union(*(_chars(text, [(q["start"], q["end"])]) for q in gold)) \
        if gold else set()
    persons = {norm_name(e["name"]) for e in page["entities"] if e["label"] == "PERSON"}
    for p in preds:
        ps = _chars(text, [(p["start"], p["end"])])
        c["pred"] += 1
        ok = bool(ps) and len(ps & gold_chars) >= 0.5 * len(ps)
        c["correct"] += ok
        if not ok:
            errors.append(f"FP {page['page']}@{p['start']}-{p['end']}")
        if p.get("speaker") and p.get("speaker_label") == "PERSON" and page["entities_complete"]:
            c["pred_person"] += 1
            if norm_name(p["speaker"]) not in persons:
                c["pred_person_not_a_person"] += 1
                errors.append(f"NOT-A-PERSON {page['page']}@{p['start']}: {p['speaker']!r}")
    for q in gold:
        g = _chars(text, [(q["start"], q["end"])])
        best, ov = _best(g, preds)
        found = ov >= 0.5 * len(g)
        c["gold"] += 1
        c["found"] += found
        if not found:
            errors.append(f"FN {page['page']}@{q['start']}-{q['end']}")
            continue
        ok = _speaker_ok(q, best)
        c["spk_n"] += 1
        c["spk_ok"] += ok
        if q["speaker"] is not None and q["speaker_label"] == "PERSON":
            c["full_name_n"] += 1
            c["full_name_ok"] += ok
        for cls, tag in PAGE_CLASSES.items():
            if tag in q["tags"]:
                c[cls + "_n"] += 1
                c[cls + "_ok"] += ok
        if q["speaker_label"] != "PERSON":
            c["source_label_n"] += 1
            c["source_label_ok"] += (best.get("speaker_label") or "unnamed") == q["speaker_label"]
        if not ok:
            errors.append(f"SPK {page['page']}@{q['start']}-{q['end']} {q['tags']} "
                          f"gold={q['speaker']!r}/{q['speaker_label']} pred={best.get('speaker')!r}"
                          f"/{best.get('speaker_label')} ({best.get('rule')})")


def eval_pages(pages: list[dict], docs: Iterable, errors: int = 0) -> dict:
    """Quote F1 and speaker accuracy, overall and per error class, on the labelled
    real pages (gold spans exact; the same 50% overlap rule as above)."""
    c: dict[str, int] = defaultdict(int)
    errs: list[str] = []
    for page, doc in zip(pages, docs):
        _page_quote_counts(page, extract_quotes(doc, link_entities(doc)), c, errs)
    for e in errs[:errors]:
        print(e, file=sys.stderr)

    def ratio(a: str, b: str) -> float | None:
        return round(c[a] / c[b], 4) if c[b] else None
    rec, prec = ratio("found", "gold"), ratio("correct", "pred")
    out = {"recall": rec, "precision": prec,
           "quote_f1": round(2 * rec * prec / (rec + prec), 4) if rec and prec else None,
           "speaker_accuracy": ratio("spk_ok", "spk_n"),
           "full_name_accuracy": ratio("full_name_ok", "full_name_n"),
           "pronoun_accuracy": ratio("pronoun_ok", "pronoun_n"),
           "source_label_accuracy": ratio("source_label_ok", "source_label_n"),
           "person_speaker_not_a_person": ratio("pred_person_not_a_person", "pred_person")}
    out["classes"] = {cls: {"n": c[cls + "_n"], "speaker_accuracy": ratio(cls + "_ok", cls + "_n")}
                      for cls in PAGE_CLASSES}
    out.update(gold=c["gold"], predicted=c["pred"], articles=len(pages))
    return out


# ---------------------------------------------------------------- main
def _table(results: dict[str, dict]) -> str:
    keys = ["recall", "precision", "quote_f1", "precision_direct", "speaker_accuracy",
            "speaker_accuracy_end_to_end", "full_name_accuracy", "partial_recall",
            "pronoun_accuracy", "label_accuracy", "continues_accuracy",
            "source_label_accuracy", "person_speaker_not_a_person", "gold", "predicted"]
    keys += sorted({k for r in results.values() for k in r if k.startswith("class:")})
    names = list(results)
    lines = [f"{'metric':30}" + "".join(f"{n:>16}" for n in names)]
    for k in keys:
        vals = [results[n].get(k) for n in names]
        if all(v is None for v in vals):
            continue
        lines.append(f"{k:30}" + "".join(f"{'-' if v is None else v:>16}" for v in vals))
    return "\n".join(lines)


def _misses(res: dict, targets: dict) -> list[str]:
    return [f"{k} {res.get(k)} < {t}" for k, t in targets.items()
            if res.get(k) is None or res[k] < t]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["dev", "train", "all"], default="dev")
    ap.add_argument("--shared", default=None,
                    help="shared/ directory (default: $NEWS_SHARED_DIR or ../shared)")
    ap.add_argument("--limit", type=int, default=None, help="first N articles per split")
    ap.add_argument("--labelled", default=str(LABELLED))
    ap.add_argument("--pages", default=str(PAGES_LABELLED),
                    help="labelled real pages (offsets into ../shared/corpus/pages); '' skips")
    ap.add_argument("--errors", type=int, default=0, help="print up to N errors to stderr")
    args = ap.parse_args(argv)

    from transforms.nlp.model import load_model
    nlp = load_model()
    results: dict[str, dict] = {}
    failures: list[str] = []
    t0 = time.perf_counter()
    root = shared_dir(args.shared) / "corpus" / "quotes" / "polnear"
    if root.is_dir():
        for split in (["train", "dev"] if args.split == "all" else [args.split]):
            arts = load_polnear(root, split, args.limit)
            docs = nlp.pipe((a["text"] for a in arts), batch_size=16)
            results[f"polnear_{split}"] = res = eval_polnear(arts, docs, args.errors)
            res["articles"] = len(arts)
            if split == "dev" and not args.limit:
                failures += [f"polnear dev: {m}" for m in _misses(res, TARGETS_DEV)]
    elif os.environ.get("REQUIRE_SHARED") == "1":
        print(f"error: PolNeAR not found at {root} and REQUIRE_SHARED=1")
        return 1
    else:
        print(f"skip: PolNeAR not found at {root}")
    pages_root = shared_dir(args.shared) / "corpus" / "pages"
    if args.pages and pages_root.is_dir():
        pages = load_pages(Path(args.pages), args.shared)
        docs = nlp.pipe((p["text"] for p in pages), batch_size=16)
        results["real_pages"] = res = eval_pages(pages, docs, args.errors)
        classes = res.pop("classes")
        for cls, v in classes.items():
            res[f"class:{cls} (n={v['n']})"] = v["speaker_accuracy"]
        failures += [f"real pages: {m}" for m in _misses(res, TARGETS_PAGES)]
    elif args.pages and os.environ.get("REQUIRE_SHARED") == "1":
        print(f"error: pages not found at {pages_root} and REQUIRE_SHARED=1")
        return 1
    if args.labelled:
        arts = load_labelled(Path(args.labelled))
        docs = nlp.pipe((a["text"] for a in arts), batch_size=16)
        results["labelled"] = res = eval_labelled(arts, docs, args.errors)
        failures += [f"labelled: {m}" for m in _misses(res, TARGETS_LABELLED)]
    print(_table(results))
    for f in failures:
        print("MISSED TARGET:", f)
    print(json.dumps({"results": results, "seconds": round(time.perf_counter() - t0, 1),
                      "targets_met": not failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
