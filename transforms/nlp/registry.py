"""The extractors that read the one parse of an article, by name.

Each ``Extractor`` names the tables it fills and the counters it reports; its
``run(article_id, doc, mentions)`` returns rows by table, and ``needs(doc)`` the
character spans whose sentences it reads the tagger and the parser in (and how many
sentences before each; ``transforms.nlp.selective``). ``--extractors`` is
checked against ``EXTRACTORS`` (``select``); the annotate stage asks the registry
which tables exist and which extractors run. Entity linking always runs first
(``mentions``): quotes name their speakers with its canonical names.
``run_extractors`` can time each extractor on the parse (``time.perf_counter``, a few
calls per article); the annotate stage reports the times as Beam distributions.

The extractor modules are imported when an extractor first runs, so the launcher
can validate names without importing spaCy.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterable

# The tables' names as in ``schemas.layout`` (tests/test_registry.py checks they
# agree): the spaCy child imports this module, and ``schemas`` would import pyarrow.
ENTITIES, MENTIONS, FIGURES, QUOTES = "entities", "mentions", "figures", "quotes"

Rows = dict[str, list[dict]]


@dataclasses.dataclass(frozen=True)
class Extractor:
    """One extractor: ``name`` (as in ``--extractors``), the ``tables`` it fills,
    ``run(article_id, doc, mentions) -> rows by table``, and where it reads the parse:
    ``needs``, pairs of ``need(doc) -> spans`` and how many sentences before each span
    it reads too."""

    name: str
    tables: tuple[str, ...]
    run: Callable[[str, object, list], Rows]
    needs: tuple[tuple[Callable[[object], list[tuple[int, int]]], int], ...]

    @property
    def stats(self) -> tuple[str, ...]:
        """Names of the counters it reports (rows written per table)."""
        return tuple(f"{table}_rows" for table in self.tables)


def _keyed(article_id: str, rows: Iterable[dict]) -> list[dict]:
    return [{"article_id": article_id, **row} for row in rows]


def _entities(article_id: str, doc, mentions: list) -> Rows:
    from transforms.nlp.entities import entity_rows, mention_rows

    return {ENTITIES: entity_rows(article_id, mentions),
            MENTIONS: mention_rows(article_id, mentions)}


def _figures(article_id: str, doc, mentions: list) -> Rows:
    from transforms.nlp.figures import extract_figures

    return {FIGURES: _keyed(article_id, extract_figures(doc))}


def _quotes(article_id: str, doc, mentions: list) -> Rows:
    from transforms.nlp.quotes import extract_quotes

    return {QUOTES: _keyed(article_id, extract_quotes(doc, mentions))}


def _needs(kind: str) -> Callable[[object], list[tuple[int, int]]]:
    def needs(doc) -> list[tuple[int, int]]:
        from transforms.nlp import needs as spans

        return getattr(spans, f"{kind}_needs")(doc)
    needs.__name__ = f"{kind}_needs"
    return needs


EXTRACTORS: dict[str, Extractor] = {e.name: e for e in (
    Extractor("entities", (ENTITIES, MENTIONS), _entities, ((_needs("entity"), 0),)),
    Extractor("figures", (FIGURES,), _figures, ((_needs("figure"), 0),)),
    Extractor("quotes", (QUOTES,), _quotes, ((_needs("quote"), 0), (_needs("pronoun"), 1))),
)}
DEFAULT = tuple(EXTRACTORS)
TABLES: tuple[str, ...] = tuple(t for e in EXTRACTORS.values() for t in e.tables)


# The annotate stage's distribution of each extractor's time per article, in
# microseconds: ``annotate/extractor_us/<name>`` (``timing_metric``).
TIMING = "extractor_us"


def timing_metric(name: str) -> str:
    return f"{TIMING}/{name}"


class UnknownExtractor(ValueError):
    """A name in ``--extractors`` that is no extractor."""


def parse(spec: str) -> tuple[str, ...]:
    """``"entities, quotes"`` -> ``("entities", "quotes")``, each name checked."""
    names = tuple(x.strip() for x in spec.split(",") if x.strip())
    select(names)
    return names


def select(names: Iterable[str]) -> tuple[Extractor, ...]:
    """The extractors of these names, in registry order; ``UnknownExtractor`` for
    a name that is none."""
    names = tuple(names)
    unknown = [n for n in names if n not in EXTRACTORS]
    if unknown:
        raise UnknownExtractor(
            f"unknown extractor {', '.join(map(repr, unknown))} in --extractors; "
            f"choose from {', '.join(EXTRACTORS)}")
    return tuple(e for name, e in EXTRACTORS.items() if name in names)


def parse_needs(names: Iterable[str] = DEFAULT) -> list[tuple[Callable, int]]:
    """``(needs, context)`` of the extractors named, and of entity linking, which
    always runs (quotes name their speakers with it)."""
    chosen = {e.name: e for e in select(names)}
    chosen.setdefault("entities", EXTRACTORS["entities"])
    return [need for e in chosen.values() for need in e.needs]


def run_extractors(article_id: str, doc, names: Iterable[str] = DEFAULT,
                   timings: dict[str, int] | None = None) -> Rows:
    """Rows of every extractor table from one parse (empty lists for the tables
    of extractors not selected). ``timings``, when given, receives each extractor's
    time on this parse, in microseconds (``TIMING``); ``entities`` includes linking
    the mentions, which runs whatever the selection (quotes name their speakers
    with it)."""
    from transforms.nlp.entities import link_entities

    chosen = select(names)
    clock = time.perf_counter
    started = clock()
    mentions = link_entities(doc)
    spent = {"entities": clock() - started}
    tables: Rows = {table: [] for table in TABLES}
    for extractor in chosen:
        started = clock()
        tables.update(extractor.run(article_id, doc, mentions))
        spent[extractor.name] = spent.get(extractor.name, 0.0) + clock() - started
    if timings is not None:
        timings.update({name: round(seconds * 1e6) for name, seconds in spent.items()})
    return tables
