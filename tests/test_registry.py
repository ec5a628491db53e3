"""The extractor registry: names, tables, validation of ``--extractors``."""
import pytest

from schemas import layout
from transforms.nlp import registry
from transforms.nlp.model import annotate_doc, parse_texts

TEXT = ("Gov. Ellen Marsh said the city would spend $5 million on roads. "
        "“It is fair,” Marsh said on Tuesday in Springfield.")


def test_the_registry_fills_every_nlp_table_once():
    assert registry.TABLES == layout.NLP_TABLES
    assert registry.DEFAULT == ("entities", "figures", "quotes")
    assert registry.EXTRACTORS["entities"].stats == ("entities_rows", "mentions_rows")


def test_extractors_option_is_checked():
    assert registry.parse(" quotes, entities ") == ("quotes", "entities")
    assert registry.parse("") == ()
    with pytest.raises(registry.UnknownExtractor, match="'quote'.*choose from entities, figures, quotes"):
        registry.parse("entities,quote")


def test_only_the_selected_extractors_fill_their_tables(nlp):
    doc, = parse_texts(nlp, [TEXT])
    every = annotate_doc("a1", doc)
    assert all(every[t] for t in registry.TABLES)
    only_figures = annotate_doc("a1", doc, ("figures",))
    assert only_figures["figures"] == every["figures"]
    assert set(only_figures) == set(registry.TABLES)
    assert not any(only_figures[t] for t in ("entities", "mentions", "quotes"))
    with pytest.raises(registry.UnknownExtractor):
        annotate_doc("a1", doc, ("figures", "sentiment"))
