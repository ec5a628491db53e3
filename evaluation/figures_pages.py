"""Scoring figures against ``evaluation/data/figures_pages.jsonl`` (real pages).

Labels index ``SHARED/corpus/pages/NAME.txt`` (see ``data/README_figures_pages.md``).
Predictions are ``schemas.FIGURES`` rows with offsets into the same text.

Per kind (money, percent, count): a gold figure is *value-correct* when a prediction of
its kind overlaps it with the same value and value_high (relative tolerance 1e-6); a
prediction is correct when it is value-correct for some gold figure of its kind.
Predictions over ``skip`` labels are not scored. Unit accuracy: among value-correct
money and percent figures, the share whose unit is the gold unit (counts: the counted
noun, when the label names one). False figures from names: predictions of any kind
over a ``name`` label.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

SCORED_KINDS = ("money", "percent", "count")


def load_labels(path: Path, pages: Path) -> dict[str, tuple[str, list[dict]]]:
    """page -> (its text, its labels); exits with a message when a page changed."""
    by_page: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_page.setdefault(row["page"], []).append(row)
    out = {}
    for page, rows in by_page.items():
        text = (pages / f"{page}.txt").read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if any(r["sha256"] != digest for r in rows):
            raise SystemExit(f"{page}.txt changed since it was labelled (sha256 differs)")
        out[page] = (text, rows)
    return out


def offset_map(original: str, normalised: str) -> list[int] | None:
    """Index in ``original`` of each char of ``normalised`` (a copy with whitespace
    removed, as ``transforms.formats.page.main_text`` makes it), or None if it is not one."""
    out, k = [], 0
    for ch in normalised:
        while k < len(original) and original[k] != ch:
            if not original[k].isspace():
                return None
            k += 1
        if k == len(original):
            return None
        out.append(k)
        k += 1
    out.append(len(original))
    return out


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _over(p: dict, g: dict) -> bool:
    return p["start"] < g["end"] and g["start"] < p["end"]


def _value_ok(p: dict, g: dict) -> bool:
    return _close(p["value"], g["value"]) and _close(p["value_high"], g["value_high"])


def score_pages(labels: dict[str, tuple[str, list[dict]]],
                predictions: dict[str, list[dict]]) -> dict:
    """Metrics per kind, money+percent together, units, qualifiers and names."""
    tally = {k: {"gold": 0, "gold_ok": 0, "pred": 0, "pred_ok": 0} for k in SCORED_KINDS}
    units = {"money_percent": [0, 0], "count": [0, 0]}
    qualifier = [0, 0]
    names = {"name_labels": 0, "name_labels_with_figure": 0, "figures_from_names": 0}
    errors: list[str] = []
    for page, (text, rows) in sorted(labels.items()):
        preds = predictions.get(page, [])
        skips = [r for r in rows if r["kind"] == "skip"]
        name_rows = [r for r in rows if r["kind"] == "name"]
        for g in rows:
            if g["kind"] not in SCORED_KINDS:
                continue
            t = tally[g["kind"]]
            t["gold"] += 1
            hits = [p for p in preds if p["kind"] == g["kind"] and _over(p, g) and _value_ok(p, g)]
            if not hits:
                got = [(p["text"], p["kind"], p["value"], p["value_high"], p["unit"])
                       for p in preds if _over(p, g)] or "missed"
                errors.append(f"{page} {g['kind']} {text[g['start']:g['end']]!r} "
                              f"gold={g['value']:g}..{g['value_high']} {g['unit']} got={got}")
                continue
            t["gold_ok"] += 1
            best = hits[0]
            qualifier[0] += 1
            qualifier[1] += best["qualifier"] == g["qualifier"]
            if g["kind"] != "count":
                units["money_percent"][0] += 1
                units["money_percent"][1] += best["unit"] == g["unit"]
                if best["unit"] != g["unit"]:
                    errors.append(f"{page} UNIT {best['text']!r} {best['unit']} != {g['unit']}")
            elif g["unit"]:
                units["count"][0] += 1
                units["count"][1] += (best["unit"] or "").lower() == g["unit"].lower()
        for p in preds:
            if p["kind"] in SCORED_KINDS and not any(_over(p, s) for s in skips):
                t = tally[p["kind"]]
                t["pred"] += 1
                ok = any(g["kind"] == p["kind"] and _over(p, g) and _value_ok(p, g)
                         for g in rows)
                t["pred_ok"] += ok
                if not ok and not any(_over(p, n) for n in name_rows):
                    errors.append(f"{page} FP {p['kind']} {p['text']!r} {p['value']:g} {p['unit']}")
        for n in name_rows:
            names["name_labels"] += 1
            inside = [p for p in preds if _over(p, n)]
            names["name_labels_with_figure"] += bool(inside)
            names["figures_from_names"] += len(inside)
            for p in inside:
                errors.append(f"{page} NAME {text[n['start']:n['end']]!r} -> "
                              f"{p['kind']} {p['text']!r} {p['unit']}")
    return _summary(tally, units, qualifier, names, errors)


def _prf(gold: int, gold_ok: int, pred: int, pred_ok: int) -> dict:
    p = pred_ok / pred if pred else 0.0
    r = gold_ok / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"gold": gold, "predicted": pred, "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f, 4)}


def _summary(tally, units, qualifier, names, errors) -> dict:
    out: dict = {k: _prf(**v) for k, v in tally.items()}
    mp = {f: tally["money"][f] + tally["percent"][f] for f in tally["money"]}
    out["money_percent"] = _prf(**mp)
    out["unit_accuracy"] = round(units["money_percent"][1] / units["money_percent"][0], 4) \
        if units["money_percent"][0] else 0.0
    out["count_unit_accuracy"] = round(units["count"][1] / units["count"][0], 4) \
        if units["count"][0] else 0.0
    out["qualifier_accuracy"] = round(qualifier[1] / qualifier[0], 4) if qualifier[0] else 0.0
    out["names"] = names
    out["errors"] = errors
    return out
