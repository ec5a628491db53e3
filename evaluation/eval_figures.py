"""Score ``transforms.nlp.figures`` on shared money gold and on the invented labelled set.

1. Shared money gold (``SHARED/corpus/figures/money_gold.jsonl``; read by path, never
   copied). Sentences go through ``nlp.pipe`` and ``extract_figures``. A gold span is
   *money* when its type is "currency" (Recognizers-Text) or its unit's first word
   names a currency (quantulum3: "pound sterling", "dollar per hour"). Gold spans with
   no value (a bare "dollars") are not scored, and predictions over them are ignored.
   Gold ``end`` is inclusive for Recognizers-Text and absent for quantulum3
   (= start + len(surface)). Expected currency:
   * ``iso_currency`` when given;
   * a bare "$"/"Dollar" is **USD** (the pipeline's documented default: a bare "$"
     means US dollars, flagged ``currency_inferred=True``);
   * minor units compare in major units: "Cent" -> USD x 0.01, "Penny" -> GBP x 0.01,
     "Satoshi" -> XBT x 1e-8 (the extractor reports "50 cents" as 0.5 USD);
   * any other unit name ("Franc", "Peseta", "Rupee") accepts every ISO code whose
     English CLDR name ends in that word (the gold does not say which franc).
   For each scored gold span: *value-correct* when a predicted money figure overlaps
   it with value (or value_high, or the range midpoint, which quantulum3 uses) within
   relative tolerance 1e-6; *currency-correct* when an overlapping money figure has an
   accepted code. Precision = predicted money figures overlapping a scored gold span /
   predicted money figures not over an unscored span. Target: value-correct >= 0.90.

2. Own set (``evaluation/data/figures_labelled.jsonl``, invented sentences covering
   every kind, qualifiers, ranges and non-figures): a gold figure is correct when a
   prediction overlaps it with the same kind, value, value_high, unit and qualifier.
   Targets: recall (all fields correct) >= 0.85, precision >= 0.90.

3. Real pages (``evaluation/data/figures_pages.jsonl``: 328 money, percent and count
   figures and 135 numbers inside names, hand-labelled on ``SHARED/corpus/pages``; see
   ``evaluation/data/README_figures_pages.md`` and ``evaluation.figures_pages``):
   value-correct precision/recall/F1 per kind and for money+percent, unit accuracy,
   false figures from names. Targets: money+percent F1 >= 0.93, unit accuracy >= 0.98.

Sets 1 and 3 are scored twice: the extractor alone (one ``nlp.pipe`` parse), and the
real pipeline (``python -m pipeline`` with default options over one JSONL file of
``text`` records: each gold sentence, each page's text with its manifest URL; Parquet
read back with DuckDB; ``evaluation.pipeline_run``), with the ``nlp_status`` counts of
that run. Target for the money gold through the pipeline: value-correct >= 0.93.

Usage: ``python -m evaluation.eval_figures [--shared DIR] [--own FILE] [--no-pipeline]``. SHARED
defaults to $NEWS_SHARED_DIR or ``../shared`` from the repo root. When it is absent the
shared part prints a skip message and does not fail, unless REQUIRE_SHARED=1; the own
set is always scored. Prints a table and a final JSON line; exits 1 under a target.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.figures_pages import load_labels, offset_map, score_pages  # noqa: E402
from evaluation.pipeline_run import run_records, status_counts  # noqa: E402
from evaluation.shared import shared_dir  # noqa: E402
from transforms.nlp.figures import extract_figures  # noqa: E402

MONEY_TARGET = 0.90
PIPELINE_MONEY_TARGET = 0.93
PAGES_TARGETS = {"money_percent_f1": 0.93, "unit_accuracy": 0.98}
PAGES_LABELS = ROOT / "evaluation" / "data" / "figures_pages.jsonl"
OWN_TARGETS = {"recall": 0.85, "precision": 0.90}
MINOR_UNITS = {"cent": ("USD", 0.01), "penny": ("GBP", 0.01), "satoshi": ("XBT", 1e-8),
               "dollar": ("USD", 1.0), "bitcoin": ("XBT", 1.0)}


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _codes_by_word() -> dict[str, set[str]]:
    from babel.numbers import get_currency_name, list_currencies
    out: dict[str, set[str]] = {}
    for code in list_currencies():
        name = get_currency_name(code, locale="en").lower()
        if name and "(" not in name:
            out.setdefault(name.split()[-1], set()).add(code)
    return out


def expected_currency(gold: dict, by_word: dict[str, set[str]]) -> tuple[set[str], float] | None:
    """(accepted ISO codes, factor gold value -> major units), or None if not money."""
    unit = (gold.get("unit") or "").lower()
    first = unit.split()[0] if unit else ""
    if gold.get("iso_currency"):
        return {gold["iso_currency"]}, 1.0
    if first in MINOR_UNITS:
        code, factor = MINOR_UNITS[first]
        return {code}, factor
    if unit.startswith("pound sterling") or first == "pound":
        return {"GBP"}, 1.0
    if gold.get("type") == "currency" or first in by_word:
        word = unit.split()[-1] if gold.get("type") == "currency" else first
        return by_word.get(word, set()), 1.0
    return None


def _pred_value_ok(p: dict, target: float) -> bool:
    vals = [p["value"], p["value_high"]]
    if p["value_high"] is not None:
        vals.append((p["value"] + p["value_high"]) / 2)
    return any(_close(v, target) for v in vals)


def load_money(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def extractor_predictions(nlp, texts: list[str],
                          sources: list[dict] | None = None) -> list[list[dict]]:
    """``extract_figures`` on one parse of each text (the extractor alone), told each
    text's source (its ``hostname``), as the pipeline tells it."""
    sources = sources or [{}] * len(texts)
    return [extract_figures(doc, src) for doc, src in zip(nlp.pipe(texts), sources)]


def pipeline_predictions(texts: list[str], results: list[dict]) -> list[list[dict]]:
    """The pipeline's figures per text, with offsets moved back into ``texts``
    (``articles.text`` is the text with its lines stripped)."""
    out = []
    for text, res in zip(texts, results):
        where = offset_map(text, res["text"]) if res["text"] is not None else None
        if where is None:
            out.append([])
            continue
        out.append([{**f, "start": where[f["start"]], "end": where[f["end"] - 1] + 1}
                    for f in res["figures"]])
    return out


def score_money(records: list[dict], predictions: list[list[dict]]) -> dict:
    by_word = _codes_by_word()
    n = value_ok = cur_ok = pred_total = pred_hit = 0
    misses: list[str] = []
    for rec, figures in zip(records, predictions):
        text = rec["text"]
        scored, unscored = [], []
        for g in rec["gold"]:
            exp = expected_currency(g, by_word)
            if exp is None:
                continue
            start = g["start"]
            end = g["end"] + 1 if "end" in g else start + len(g["surface"])
            span = (start, end, g, exp)
            (scored if g.get("value") is not None else unscored).append(span)
        preds = [p for p in figures if p["kind"] == "money"]
        for s, e, g, (codes, factor) in scored:
            n += 1
            target = float(g["value"]) * factor
            over = [p for p in preds if p["start"] < e and s < p["end"]]
            v = any(_pred_value_ok(p, target) for p in over)
            c = any(p["unit"] in codes for p in over)
            value_ok += v
            cur_ok += c
            if not (v and c):
                got = [(p["text"], p["value"], p["unit"]) for p in over] or "missed"
                misses.append(f"{rec['idx']:>4} {text[s:e]!r} gold={target:g} "
                              f"{sorted(codes)[:3]} got={got}")
        for p in preds:
            if any(p["start"] < e and s < p["end"] for s, e, *_ in unscored):
                continue
            pred_total += 1
            hit = any(p["start"] < e and s < p["end"] for s, e, *_ in scored)
            pred_hit += hit
            if not hit:
                misses.append(f"{rec['idx']:>4} FP {p['text']!r} {p['value']:g} {p['unit']}")
    return {"gold_money": n, "value_correct": round(value_ok / n, 4) if n else 0.0,
            "currency_correct": round(cur_ok / n, 4) if n else 0.0,
            "predicted_money": pred_total,
            "precision": round(pred_hit / pred_total, 4) if pred_total else 0.0,
            "misses": misses}


def score_own(path: Path, nlp) -> dict:
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    n = ok = npred = pred_hit = 0
    fields = {"kind": 0, "value": 0, "unit": 0, "qualifier": 0}
    errors: list[str] = []
    for rec, doc in zip(records, nlp.pipe(r["text"] for r in records)):
        preds = extract_figures(doc)
        for p in preds:
            assert doc.text[p["start"]:p["end"]] == p["text"], p
        for g in rec["figures"]:
            n += 1
            over = [p for p in preds if p["start"] < g["end"] and g["start"] < p["end"]]
            best = over[0] if over else None
            checks = {
                "kind": best is not None and best["kind"] == g["kind"],
                "value": best is not None and _close(best["value"], g["value"]) and (
                    (g["value_high"] is None and best["value_high"] is None)
                    or _close(best["value_high"], g["value_high"] or math.nan)),
                "unit": best is not None and best["unit"] == g["unit"],
                "qualifier": best is not None and best["qualifier"] == g["qualifier"],
            }
            for k, v in checks.items():
                fields[k] += v
            if all(checks.values()):
                ok += 1
            else:
                got = {k: best[k] for k in ("text", "kind", "value", "value_high", "unit",
                                            "qualifier")} if best else "missed"
                errors.append(f"{rec['id']} {g['text']!r} got {got}")
        for p in preds:
            npred += 1
            hit = any(p["start"] < g["end"] and g["start"] < p["end"] for g in rec["figures"])
            pred_hit += hit
            if not hit:
                errors.append(f"{rec['id']} FP {p['text']!r} ({p['kind']})")
    res = {"gold_figures": n, "recall": round(ok / n, 4) if n else 0.0,
           "predicted": npred, "precision": round(pred_hit / npred, 4) if npred else 0.0}
    res.update({f"{k}_accuracy": round(v / n, 4) if n else 0.0 for k, v in fields.items()})
    res["errors"] = errors
    return res


def _manifest_urls(pages: Path) -> dict[str, str]:
    import csv
    with open(pages / "manifest.csv", newline="", encoding="utf-8") as fh:
        return {row["name"]: row["url"] for row in csv.DictReader(fh)}


def _print(result: dict) -> None:
    print(f"{'set':<30}{'metric':<26}{'value':>12}")
    for name, res in result.items():
        if not isinstance(res, dict):
            continue
        for k, v in res.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    print(f"{name:<30}{k + '.' + k2:<26}{v2:>12}")
            else:
                print(f"{name:<30}{k:<26}{v:>12}")


def _shared_sets(shared: Path, nlp, with_pipeline: bool, verbose: bool) -> dict:
    """Money gold and the labelled real pages: extractor alone, then the pipeline."""
    gold_path = shared / "corpus" / "figures" / "money_gold.jsonl"
    pages_dir = shared / "corpus" / "pages"
    money = load_money(gold_path)
    labels = load_labels(PAGES_LABELS, pages_dir)
    names = sorted(labels)
    page_texts = [labels[n][0] for n in names]
    money_texts = [r["text"] for r in money]
    urls = _manifest_urls(pages_dir)
    page_sources = [{"hostname": urlsplit(urls[n]).hostname} for n in names]
    runs = {"extractor": (extractor_predictions(nlp, money_texts),
                          extractor_predictions(nlp, page_texts, page_sources))}
    result: dict = {}
    if with_pipeline:
        records = [{"text": t} for t in money_texts] + \
            [{"text": labels[n][0], "url": urls.get(n)} for n in names]
        results = run_records(records)
        result["money_gold_pipeline_status"] = status_counts(results[:len(money)])
        result["pages_pipeline_status"] = status_counts(results[len(money):])
        texts = money_texts + page_texts
        preds = pipeline_predictions(texts, results)
        runs["pipeline"] = (preds[:len(money)], preds[len(money):])
    for how, (money_preds, page_preds) in runs.items():
        scored = score_money(money, money_preds)
        misses = scored.pop("misses")
        pages = score_pages(labels, dict(zip(names, page_preds)))
        errors = pages.pop("errors")
        if verbose:
            print(f"-- money gold, {how}:\n" + "\n".join("  " + m for m in misses))
            print(f"-- real pages, {how}:\n" + "\n".join("  " + m for m in errors))
        result[f"money_gold_{how}"] = scored
        result[f"pages_{how}"] = pages
    return result


def _failed(result: dict) -> list[str]:
    failed = []
    for key, target in (("money_gold_extractor", MONEY_TARGET),
                        ("money_gold_pipeline", PIPELINE_MONEY_TARGET)):
        if isinstance(result.get(key), dict) and result[key]["value_correct"] < target:
            failed.append(f"{key}.value_correct")
    for how in ("extractor", "pipeline"):
        pages = result.get(f"pages_{how}")
        if not isinstance(pages, dict):
            continue
        if pages["money_percent"]["f1"] < PAGES_TARGETS["money_percent_f1"]:
            failed.append(f"pages_{how}.money_percent.f1")
        if pages["unit_accuracy"] < PAGES_TARGETS["unit_accuracy"]:
            failed.append(f"pages_{how}.unit_accuracy")
    own = result["own_set"]
    failed += [f"own_set.{k}" for k, t in OWN_TARGETS.items() if own[k] < t]
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None,
                    help="shared data dir (default: $NEWS_SHARED_DIR or ../shared)")
    ap.add_argument("--own", type=Path,
                    default=ROOT / "evaluation" / "data" / "figures_labelled.jsonl")
    ap.add_argument("--model", default=None, help="spaCy package (default: transforms.nlp.model)")
    ap.add_argument("--no-pipeline", action="store_true",
                    help="score the extractor alone (skip the pipeline run)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = ap.parse_args(argv)
    from transforms.nlp.model import load_model
    nlp = load_model(args.model)
    result: dict = {}
    shared = shared_dir(args.shared and str(args.shared))
    if (shared / "corpus" / "figures" / "money_gold.jsonl").is_file():
        result.update(_shared_sets(shared, nlp, not args.no_pipeline, args.verbose))
    else:
        print(f"SKIP shared money gold and real pages: {shared} not found")
        result["shared"] = "skipped"

    own = score_own(args.own, nlp)
    errors = own.pop("errors")
    if args.verbose:
        print("\n".join("  " + m for m in errors))
    result["own_set"] = own
    failed = _failed(result)
    if result.get("shared") == "skipped" and os.environ.get("REQUIRE_SHARED") == "1":
        failed.append("shared.missing")
    _print(result)
    result["targets"] = {"money_value_correct": MONEY_TARGET,
                         "pipeline_money_value_correct": PIPELINE_MONEY_TARGET,
                         **{f"pages_{k}": v for k, v in PAGES_TARGETS.items()},
                         **{f"own_{k}": v for k, v in OWN_TARGETS.items()}}
    result["failed"] = failed
    print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
