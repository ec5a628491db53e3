"""Syndication cases built from real article texts, with their gold stories.

Reads texts by path (``../shared/corpus/pages/*.txt`` and PolNeAR's
``quotes/polnear/train/text``): nothing is copied into the repository; the pages
are written to a folder the caller chooses (a temporary one). Cases:

- **stories**: an original and 1-5 copies, each copy with a random mix of the
  edits wire copies get (``EDITS``): a different headline, a dateline, the last
  paragraph cut, a credit line, an advertisement paragraph in the middle,
  curly quotes straightened (or straight ones curled);
- **singletons**: an article that appears once;
- **traps**: a page that shares the first paragraphs of a story's original
  (at most ``TRAP_SHARE`` of its own paragraphs) and then goes on with another
  article's paragraphs: a different story.

Every page sits in one of several site templates (our own HTML: navigation,
sidebars, related links, footers), on its own hostname, with a published date.
Base texts that overlap each other already (Jaccard of 5-word shingles >= 0.2,
e.g. two versions of one wire story in the source corpora) are left out, so the
gold is not wrong by construction. ``generate`` returns the gold as
``{file name: {"story": ..., "kind": ...}}`` and writes it as ``gold.json``.

    python -m evaluation.syndication OUT_DIR [--seed 17]   (pages in OUT_DIR/pages)
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

from evaluation.shared import require, shared_dir
from transforms.similarity import minhash
from transforms.similarity.lsh import candidate_pairs
from transforms.similarity.shingles import jaccard, shingles

MIN_PARAGRAPHS, MIN_WORDS = 5, 200
TRAP_SHARE = 0.5        # a trap's shared paragraphs: at most this share of its own
BASE_OVERLAP = 0.2      # base texts at least this similar to another are left out

CITIES = ["WASHINGTON", "LONDON", "NEW DELHI", "NAIROBI", "SAO PAULO", "SYDNEY", "BERLIN",
          "TORONTO", "MEXICO CITY", "SEOUL"]
WIRES = ["Continental Press", "Meridian Wire", "Global Newswire Service", "Atlas News Agency"]
CREDITS = ["Reporting by Dana Whitfield; additional reporting by Omar Castell; editing by Lise Brandt",
           "Copyright {year} {wire}. All rights reserved. This material may not be published, "
           "broadcast, rewritten or redistributed.",
           "{wire} writers Priya Anand and Tom Kessler contributed to this report.",
           "This story was distributed by {wire} and has been edited for length."]
ADS = ["ADVERTISEMENT",
       "Sign up for our morning briefing: the day's top stories in your inbox before breakfast.",
       "Read more: Ten things to know before you travel this summer",
       "Story continues below advertisement"]
HEADLINE_PREFIXES = ["", "UPDATE: ", "Analysis: ", "WATCH: ", "Breaking: "]


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if len(p.split()) >= 3]


def source_texts(root: Path) -> list[tuple[str, list[str]]]:
    """``(name, paragraphs)`` of every usable text under ``root`` (pages and PolNeAR)."""
    files = sorted((root / "corpus" / "pages").glob("*.txt"))
    files += sorted((root / "corpus" / "quotes" / "polnear" / "train" / "text").glob("*.txt"))
    out = []
    for f in files:
        paras = paragraphs(f.read_text(encoding="utf-8", errors="replace"))
        if len(paras) >= MIN_PARAGRAPHS and sum(len(p.split()) for p in paras) >= MIN_WORDS:
            out.append((f.stem, paras))
    return out


def independent(texts: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The texts that overlap no other (exact Jaccard < ``BASE_OVERLAP``), found
    among LSH candidates of a low-threshold banding."""
    params = minhash.SignatureParams(shingle_words=5, bands=32, rows=2)
    joined = {name: "\n".join(paras) for name, paras in texts}
    sigs = {name: minhash.signature(t, params) for name, t in joined.items()}
    overlapping = set()
    for a, b in candidate_pairs(sigs, params):
        if jaccard(shingles(joined[a], 5), shingles(joined[b], 5)) >= BASE_OVERLAP:
            overlapping |= {a, b}
    return [t for t in texts if t[0] not in overlapping]


# -- edits -------------------------------------------------------------------

def _headline(paras: list[str], rng: random.Random) -> str:
    words = re.findall(r"[\w'’-]+", rng.choice(paras[:4]))
    start = rng.randrange(0, max(1, len(words) - 8))
    return rng.choice(HEADLINE_PREFIXES) + " ".join(words[start:start + rng.randint(6, 11)]).capitalize()


def add_dateline(paras: list[str], rng: random.Random) -> list[str]:
    return [f"{rng.choice(CITIES)} ({rng.choice(WIRES)}) — {paras[0]}", *paras[1:]]


def cut_last_paragraph(paras: list[str], rng: random.Random) -> list[str]:
    return paras[:-1]


def add_credit_line(paras: list[str], rng: random.Random) -> list[str]:
    return [*paras, rng.choice(CREDITS).format(year=2026, wire=rng.choice(WIRES))]


def insert_ad(paras: list[str], rng: random.Random) -> list[str]:
    at = rng.randint(1, len(paras) - 1)
    return [*paras[:at], rng.choice(ADS), *paras[at:]]


_CURLY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def change_quotes(paras: list[str], rng: random.Random) -> list[str]:
    """Curly quotes straightened; a text without any gets its straight ones curled."""
    text = "\n".join(paras)
    if any(c in text for c in "“”‘’"):
        return [p.translate(_CURLY) for p in paras]
    curled = re.sub(r'"(\w)', r"“\1", text)
    curled = re.sub(r'"', "”", curled).replace("'", "’")
    return curled.split("\n")


EDITS: dict[str, Callable[[list[str], random.Random], list[str]]] = {
    "dateline": add_dateline, "cut_last": cut_last_paragraph, "credit": add_credit_line,
    "ad": insert_ad, "quotes": change_quotes,
}


# -- site templates ----------------------------------------------------------

def _nav(site: str) -> str:
    items = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>'
                    for s in ["World", "Politics", "Business", "Sport", "Culture", "Opinion"])
    return f'<nav class="top"><a class="logo" href="/">{site}</a><ul>{items}</ul></nav>'


def _related(rng: random.Random) -> str:
    topics = ["Council approves new cycle lanes", "Storm warning issued for the coast",
              "Local bakery wins national award", "Five questions about the new tax rules",
              "Why the river keeps flooding", "The best hiking trails near the city"]
    links = "".join(f'<li><a href="/story/{i}">{t}</a></li>' for i, t in enumerate(rng.sample(topics, 4)))
    return f'<aside class="related"><h3>More stories</h3><ul>{links}</ul></aside>'


def _body(paras: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paras)


def _head(title: str, url: str, site: str, published: dt.date) -> str:
    t = html.escape(title)
    return (f'<head><meta charset="utf-8"><title>{t} | {site}</title>'
            f'<meta property="og:title" content="{t}"><meta property="og:url" content="{url}">'
            f'<meta property="og:site_name" content="{site}">'
            f'<meta property="article:published_time" content="{published.isoformat()}T08:00:00Z">'
            f'<link rel="canonical" href="{url}"></head>')


def template_news(title, paras, site, rng):
    return (f'<body>{_nav(site)}<main><article><h1>{html.escape(title)}</h1>'
            f'<div class="byline">By Staff</div>{_body(paras)}</article>{_related(rng)}</main>'
            f'<footer><p>&copy; 2026 {site}. Terms of use. Privacy policy. Contact us.</p></footer></body>')


def template_magazine(title, paras, site, rng):
    return (f'<body><header><div class="brand">{site}</div>{_nav(site)}'
            f'<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>'
            f'</header><div class="wrap"><div class="story-body" itemprop="articleBody">'
            f'<h1 class="headline">{html.escape(title)}</h1>{_body(paras)}'
            f'<div class="share">Share on social media: Facebook Twitter Email</div></div>'
            f'<div class="sidebar"><h4>Most read</h4>{_related(rng)}</div></div>'
            f'<footer>{site} Media Group. All rights reserved. Advertise with us.</footer></body>')


def template_portal(title, paras, site, rng):
    return (f'<body><div id="page">{_nav(site)}<div class="breadcrumbs">Home &gt; News</div>'
            f'<section class="content"><h2 class="title">{html.escape(title)}</h2>'
            f'<div class="entry-content">{_body(paras)}</div>'
            f'<div class="comments"><h3>Comments</h3><p>Be the first to comment.</p></div>'
            f'</section>{_related(rng)}<div class="newsletter">Get our newsletter every morning.'
            f'</div></div><footer><ul><li>About</li><li>Jobs</li><li>Contact</li></ul></footer></body>')


def template_minimal(title, paras, site, rng):
    return (f'<body><article><header><h1>{html.escape(title)}</h1><time>2026</time></header>'
            f'{_body(paras)}</article><footer>{site}</footer></body>')


TEMPLATES = [template_news, template_magazine, template_portal, template_minimal]
SITES = [(f"{name} {kind}", f"www.{name.lower()}{kind.lower()}.example")
         for name in ["Riverside", "Harbor", "Summit", "Lakeshore", "Prairie", "Coastal", "Valley",
                      "Northern", "Capital", "Metro", "Pinewood", "Eastbay"]
         for kind in ["Herald", "Times", "Post"]]


def page(title: str, paras: list[str], site_index: int, slug: str, published: dt.date,
         rng: random.Random) -> str:
    site, host = SITES[site_index % len(SITES)]
    url = f"https://{host}/{published.isoformat().replace('-', '/')}/{slug}"
    template = TEMPLATES[site_index % len(TEMPLATES)]
    return (f"<!DOCTYPE html><html lang=\"en\">{_head(title, url, site, published)}"
            f"{template(title, paras, site, rng)}</html>")


# -- cases -------------------------------------------------------------------

def generate(out: Path, root: Path | None = None, seed: int = 17, stories: int = 60,
             singletons: int = 60, traps: int = 25) -> dict[str, dict]:
    """Write the case pages under ``out/pages`` and return (and write to
    ``out/gold.json``) their gold, by file name."""
    rng = random.Random(seed)
    texts = independent(source_texts(root or shared_dir()))
    rng.shuffle(texts)
    needed = stories + singletons + traps
    if len(texts) < needed:
        raise SystemExit(f"only {len(texts)} independent base texts, {needed} needed")
    story_bases = texts[:stories]
    single_bases = texts[stories:stories + singletons]
    tails = texts[stories + singletons:needed]
    (out / "pages").mkdir(parents=True, exist_ok=True)
    gold: dict[str, dict] = {}
    day0 = dt.date(2026, 1, 5)

    def write(name: str, title: str, paras: list[str], story: str, kind: str,
              published: dt.date, edits: list[str]) -> None:
        site = rng.randrange(len(SITES))
        (out / "pages" / f"{name}.html").write_text(page(title, paras, site, name, published, rng), encoding="utf-8")
        gold[f"{name}.html"] = {"story": story, "kind": kind, "edits": edits,
                                "host": SITES[site % len(SITES)][1]}

    for i, (base, paras) in enumerate(story_bases):
        story, day = f"story-{i:03d}", day0 + dt.timedelta(days=rng.randrange(150))
        write(f"{story}-original", _headline(paras, rng), paras, story, "original", day, [])
        for c in range(rng.randint(1, 5)):
            edits = rng.sample(sorted(EDITS), rng.randint(1, 4))
            copy = paras
            for e in edits:
                copy = EDITS[e](copy, rng)
            write(f"{story}-copy{c}", _headline(paras, rng), copy, story, "copy",
                  day + dt.timedelta(days=rng.randint(0, 3)), ["headline", *edits])
    for i, (base, paras) in enumerate(single_bases):
        write(f"single-{i:03d}", _headline(paras, rng), paras, f"single-{i:03d}", "singleton",
              day0 + dt.timedelta(days=rng.randrange(150)), [])
    for i, (tail, tail_paras) in enumerate(tails):
        _, paras = story_bases[i % len(story_bases)]
        own = tail_paras[2:]
        shared = min(rng.randint(2, 3), int(len(own) * TRAP_SHARE / (1 - TRAP_SHARE)), len(paras) - 2)
        trap = paras[:shared] + own
        write(f"trap-{i:03d}", _headline(trap, rng), trap, f"trap-{i:03d}", "trap",
              day0 + dt.timedelta(days=rng.randrange(150)), [f"shares_first_{shared}"])
    (out / "gold.json").write_text(json.dumps(gold, indent=1, sort_keys=True))
    return gold


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args(argv)
    require(shared_dir() / "corpus" / "pages")
    gold = generate(args.out, seed=args.seed)
    kinds = {}
    for g in gold.values():
        kinds[g["kind"]] = kinds.get(g["kind"], 0) + 1
    print(f"{len(gold)} pages under {args.out}: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
