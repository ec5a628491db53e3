"""The shape of the pipeline, stage by stage.

read -> clean -> deduplicate -> annotate -> write, with the errors of every
stage flattened into one errors table.
"""
from __future__ import annotations

import datetime as dt

import apache_beam as beam

from pipeline.options import NewsOptions
from pipeline.progress import Progress
from transforms.annotate import NLP_TABLES, Annotate
from transforms.clean import Clean
from transforms.dedupe import DUPLICATES, Deduplicate
from transforms.errors import ERRORS
from transforms.read import ReadDocuments
from transforms.write import WriteTables


def build_tables(p: beam.Pipeline, opts: NewsOptions) -> dict[str, beam.PCollection]:
    """Every output table as a PCollection of rows."""
    read = p | "Read" >> ReadDocuments(opts.input, opts.max_document_bytes)
    cleaned = read["documents"] | "Clean" >> Clean(opts.min_text_chars)
    articles = cleaned.articles | "Progress" >> Progress("documents cleaned", opts.progress_seconds)
    unique = articles | "Deduplicate" >> Deduplicate()
    errors = [read[ERRORS], cleaned[ERRORS]]
    tables = {DUPLICATES: unique[DUPLICATES]}
    if opts.no_nlp:
        tables["articles"] = unique.articles | "NlpDisabled" >> beam.Map(
            lambda a: {**a, "nlp_status": "disabled"})
    else:
        annotated = unique.articles | "Annotate" >> Annotate(
            opts.model, opts.nlp_batch_size, opts.nlp_batch_chars, opts.nlp_chunk_chars,
            tuple(x.strip() for x in opts.extractors.split(",") if x.strip()))
        tables["articles"] = annotated.articles
        tables.update({t: annotated[t] for t in NLP_TABLES})
        errors.append(annotated[ERRORS])
    tables[ERRORS] = errors | "AllErrors" >> beam.Flatten()
    return tables


def build_pipeline(p: beam.Pipeline, opts: NewsOptions, output: str,
                   ingested_at: dt.datetime) -> list[str]:
    """Read, clean, deduplicate, annotate and write every table under ``output``;
    returns the names of the tables written."""
    tables = build_tables(p, opts)
    tables | "Write" >> WriteTables(output, ingested_at)
    return list(tables)
