"""CPU seconds per spaCy component on real article texts, and what selective parsing parses.

    python benchmarks/components.py [--rounds 2] [--shared DIR]

Reads the ground-truth texts of ``../shared/corpus/pages/*.txt`` (skips when absent
unless ``REQUIRE_SHARED=1``) and runs each component of the model's pipeline over all of
them (``pipe``, batches of 32), timing CPU (``time.process_time``: less disturbed by
other work on the machine than wall clock), then the whole pipeline as the user's loop
loads it (every default component but the lemmatizer), the pipeline's own ``full`` and
``selective`` parse (``transforms.nlp.model.load_model``), with the share of sentences
and tokens the selective parse sends through the tagger/parser. Prints a table and a
JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def component_seconds(nlp, texts: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """CPU seconds of the tokenizer and of each component of ``nlp`` (and of the
    model's ``senter`` if it has one), in pipeline order: ``first``, the first round
    (a cold model: its vocabulary, lemma memo and memory still growing), and ``mean``
    of all rounds."""
    senter = "senter" in nlp.component_names and "senter" not in nlp.pipe_names
    names = ["tokenizer", *nlp.pipe_names, *(["senter"] if senter else [])]
    per_round = []
    for _ in range(rounds):
        totals = dict.fromkeys(names, 0.0)
        docs: list = []
        totals["tokenizer"] += _cpu(lambda: docs.extend(nlp.make_doc(t) for t in texts))
        for name in nlp.pipe_names:
            proc = nlp.get_pipe(name)
            totals[name] += _cpu(lambda: docs.__setitem__(
                slice(None), list(proc.pipe(docs, batch_size=32))))
        if senter:
            fresh = [nlp.make_doc(t) for t in texts]
            totals["senter"] += _cpu(
                lambda: list(nlp.get_pipe("senter").pipe(fresh, batch_size=32)))
        per_round.append(totals)
    return {k: {"first": round(per_round[0][k], 2),
                "mean": round(sum(r[k] for r in per_round) / rounds, 2)} for k in names}


def pipelines(texts: list[str], rounds: int) -> dict[str, dict]:
    """CPU seconds of whole pipelines over ``texts``, with the selective parse's share."""
    import spacy

    from transforms.nlp.model import default_model, load_model

    loaded = {"user (no lemmatizer)": spacy.load(default_model(), exclude=["lemmatizer"]),
              "full": load_model(parse="full"), "selective": load_model(parse="selective")}
    out = {}
    for name, nlp in loaded.items():
        seconds = sum(_cpu(lambda: list(nlp.pipe(texts, batch_size=32))) for _ in range(rounds))
        out[name] = {"cpu_s": round(seconds / rounds, 2)}
        stats = getattr(nlp, "stats", None)
        if stats:
            out[name]["sentences_parsed"] = round(stats["sentences_parsed"] / stats["sentences"], 3)
            out[name]["tokens_parsed"] = round(stats["tokens_parsed"] / stats["tokens"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=None)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    from evaluation.shared import require, shared_dir

    pages = require(shared_dir(args.shared) / "corpus" / "pages")
    texts = [p.read_text(encoding="utf-8") for p in sorted(pages.glob("*.txt"))
             if p.with_suffix(".html").exists()]   # the pages' ground truth only
    words = sum(len(t.split()) for t in texts)
    import spacy

    from transforms.nlp.model import default_model, load_model

    comps = {"shipped": component_seconds(spacy.load(default_model()), texts, args.rounds),
             "pipeline": component_seconds(load_model(parse="full"), texts, args.rounds)}
    whole = pipelines(texts, args.rounds)
    print(f"{len(texts)} texts, {words} words; CPU s per component (pipe, batches of 32), "
          "the model as shipped and as the pipeline loads it (transforms.nlp.model.load_model); mean of rounds, and the first (cold) round:")
    print(f"  {'component':<16}{'shipped':>9}{'pipeline':>10}   first round: shipped, pipeline")
    for name, sec in comps["shipped"].items():
        ours = comps["pipeline"].get(name)
        mean = "" if ours is None else f"{ours['mean']:>10.2f}"
        first = "" if ours is None else f", {ours['first']:.2f}"
        print(f"  {name:<16}{sec['mean']:>9.2f}{mean:<10}   {sec['first']:.2f}{first}")
    print("whole pipelines:")
    for name, res in whole.items():
        extra = (f"  (sentences parsed {res['sentences_parsed']:.1%}, tokens "
                 f"{res['tokens_parsed']:.1%})" if "tokens_parsed" in res else "")
        print(f"  {name:<22}{res['cpu_s']:>7.2f} s  {words / res['cpu_s']:>7.0f} words/s{extra}")
    print(json.dumps({"benchmark": "components", "texts": len(texts), "words": words,
                      "components_cpu_s": comps, "pipelines": whole}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
