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


def test_each_extractor_is_timed_on_the_parse_and_linking_counts_as_entities(nlp):
    doc, = parse_texts(nlp, [TEXT])
    every, only_quotes = {}, {}
    assert registry.run_extractors("a1", doc, timings=every) == annotate_doc("a1", doc)
    assert set(every) == set(registry.DEFAULT) and all(us > 0 for us in every.values())
    registry.run_extractors("a1", doc, ("quotes",), timings=only_quotes)
    assert set(only_quotes) == {"entities", "quotes"}  # linking runs for the quotes too


def test_extractor_timings_are_beam_metrics_of_the_annotate_stage(tmp_path):
    """The in-process path (``--nlp_timeout 0``) on the pinned local runner; the
    child-process path: tests/test_pipeline.py (the samples run)."""
    import time

    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipeline.build import annotate_config
    from pipeline.options import NewsOptions
    from transforms.annotate import Annotate

    opts = NewsOptions(["--input", "x", "--output", str(tmp_path), "--nlp_timeout", "0"])
    articles = [{"article_id": f"a{i}", "source": f"s{i}", "text": f"{TEXT} Case {i}.",
                 "language": "en", "hostname": None, "sitename": None} for i in range(3)]
    started = time.monotonic()
    p = beam.Pipeline(runner=FnApiRunner())
    (p | beam.Create(articles)
         | Annotate(annotate_config(opts.view_as(NewsOptions))))
    result = p.run()
    result.wait_until_finish()
    seconds = time.monotonic() - started
    found = result.metrics().query(MetricsFilter().with_namespace("annotate"))
    timings = {d.key.metric.name: d.committed for d in found["distributions"]
               if d.key.metric.name.startswith(registry.TIMING + "/")}
    assert set(timings) == {registry.timing_metric(n) for n in registry.DEFAULT}
    for value in timings.values():
        assert value.count == len(articles)
        assert 0 < value.min <= value.max and value.sum < seconds * 1e6

