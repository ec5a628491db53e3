"""The shape of the pipeline, stage by stage.

read -> clean -> deduplicate -> annotate -> write, with the errors of every
stage flattened into one errors table.
"""
from __future__ import annotations

import datetime as dt
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.flags import NLP_CHILD_MB
from pipeline.options import NewsOptions
from pipeline.progress import Progress, progress_folder
from schemas.layout import (ARTICLES, DUPLICATES, ERRORS, FILES, SIGNATURES, STORIES,
                            table_glob)
from transforms.annotate import (ANNOTATIONS, RECORDS, Annotate, AnnotateConfig,
                                 UnpackAnnotations, adopt_annotations)
from transforms.clean import Clean, CleanConfig
from transforms.dedupe import Deduplicate
from transforms.incremental import KnownArticles, SkipKnownFiles, file_row
from transforms.nlp import registry
from transforms.read import ReadConfig, ReadDocuments
from transforms.sandbox import zygote
from transforms.spill import RestoreInOrder, Spill, spill_folder
from transforms.stories import (STORY_IDS, AttachStoryIds, ClusterStories, ReadStored,
                                story_options, with_signature)
from transforms.write import WriteTables


def resolve_model(opts: NewsOptions) -> None:
    """Fill in ``--model`` when NLP runs and none was given (``default_model``)."""
    if not opts.no_nlp and not opts.model:
        from transforms.nlp.model import default_model
        opts.model = default_model()


def clean_config(opts: NewsOptions) -> CleanConfig:
    """The clean stage's settings from the options; children fork from the
    zygote this launcher serves, if any."""
    return CleanConfig(opts.min_text_chars, opts.extract_timeout, opts.worker_max_rss_mb,
                       zygote.address(), opts.language)


def annotate_config(opts: NewsOptions) -> AnnotateConfig:
    """The annotate stage's settings from the options (see ``clean_config``)."""
    return AnnotateConfig(
        opts.model, registry.parse(opts.extractors), opts.nlp_batch_size,
        opts.nlp_batch_chars, opts.nlp_chunk_chars, opts.nlp_timeout, opts.max_nlp_chars,
        opts.worker_max_rss_mb, zygote.address(), opts.nlp_parse,
        nlp_processes(opts))


# Runners that run the pipeline on this machine's Beam workers (``--direct_num_workers``).
_LOCAL = (None, "", "DirectRunner", "FnApiRunner")


def _local_workers(opts: NewsOptions) -> int | None:
    """How many Beam workers the local runner runs (None: not the local runner)."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    if opts.view_as(StandardOptions).runner not in _LOCAL:
        return None
    workers = opts.view_as(DirectOptions).direct_num_workers
    return workers if workers > 0 else os.cpu_count() or 1  # 0: one per core, as Beam has it


def nlp_processes(opts: NewsOptions) -> int:
    """spaCy children per worker (``--nlp_processes``; 0: this machine's cores shared
    among the local runner's workers, and at least two each on a machine of two cores
    or more, so that a worker whose share of the input is the larger one parses on
    the cores the others no longer use; no more in all than the memory holds at
    ``NLP_CHILD_MB`` each; one per worker on other runners, which run a worker per
    core themselves)."""
    if opts.nlp_processes > 0:
        return opts.nlp_processes
    workers = _local_workers(opts)
    if workers is None:
        return 1
    cores = len(os.sched_getaffinity(0))
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    wanted = max(cores // workers, min(2, cores))
    return max(1, min(wanted, memory_mb // NLP_CHILD_MB // workers))


def _one_local_worker(opts: NewsOptions) -> bool:
    return _local_workers(opts) == 1


def balance_enabled(opts: NewsOptions) -> bool:
    """Whether a batch run spreads files in bins of equal size (``--balance``): worth
    its shuffle where a runner splits work statically among several workers, not with
    one worker nor on Dataflow, which rebalances."""
    from apache_beam.options.pipeline_options import StandardOptions

    if opts.balance != "auto":
        return opts.balance == "on"
    return not _one_local_worker(opts) and \
        "dataflow" not in str(opts.view_as(StandardOptions).runner).lower()


def read_spread(opts: NewsOptions) -> str:
    """How the batch read spreads files (``ReadConfig.spread``)."""
    if balance_enabled(opts):
        return "bins"
    return "none" if _one_local_worker(opts) else "reshuffle"


def read_config(opts: NewsOptions, spread: str, file_filter: beam.PTransform | None = None,
                matcher: beam.PTransform | None = None) -> ReadConfig:
    """The read stage's settings from the options: ``--input`` (unless a ``matcher``
    finds the files) and ``--max_document_bytes``; ``spread``, ``file_filter`` and
    ``matcher`` as the pipeline's shape needs them (``ReadConfig``)."""
    patterns = () if matcher is not None else tuple(opts.input or ())
    return ReadConfig(patterns, opts.max_document_bytes, spread, file_filter, matcher)


def _has_table(output: str, table: str) -> bool:
    return bool(FileSystems.match([table_glob(output, table)])[0].metadata_list)


def build_tables(p: beam.Pipeline, opts: NewsOptions,
                 staged: str | None = None) -> dict[str, beam.PCollection]:
    """Every output table as a PCollection of rows (``staged``: the run's staging
    folder, where local workers share their progress counts)."""
    # Incremental: files and articles the published output holds are not redone.
    skip_files = opts.incremental and _has_table(opts.output, FILES)
    stored = (p | "StoredArticles" >> KnownArticles(opts.output)
              if opts.incremental and _has_table(opts.output, ARTICLES) else None)

    read = p | "Read" >> ReadDocuments(read_config(
        opts, read_spread(opts), SkipKnownFiles(opts.output) if skip_files else None))
    stories = ClusterStories(story_options(opts), *(
        (p | f"Stored {t}" >> ReadStored(opts.output, t) for t in (SIGNATURES, STORIES))
        if opts.incremental and _has_table(opts.output, SIGNATURES) else ()))
    return process_documents(read, opts, Deduplicate(stored, adopt_annotations),
                             stories=stories, staged=staged, annotate_first=True)


def process_documents(read: dict, opts: NewsOptions, deduplicate: beam.PTransform,
                      stories: ClusterStories | None = None,
                      staged: str | None = None,
                      annotate_first: bool = False) -> dict[str, beam.PCollection]:
    """clean -> deduplicate -> stories -> annotate from the reader's outputs, with the
    errors of every stage in one table; shared by the batch and the streaming shapes.
    ``stories``: the clustering stage (default: without stored stories).
    ``annotate_first``: clean -> annotate -> deduplicate instead, the rows of the kept
    copies written (``annotate_first_tables``)."""
    if annotate_first and not opts.no_nlp:
        return annotate_first_tables(read, opts, deduplicate, stories, staged)
    documents = read["documents"]
    annotate = None if opts.no_nlp else Annotate(annotate_config(opts))
    if annotate is not None:  # the model loads while cleaning runs
        documents = documents | "PrestartModel" >> annotate.prestart()
    cleaned = documents | "Clean" >> Clean(clean_config(opts))
    articles = cleaned.articles | "Progress" >> Progress(
        "cleaned", "articles", opts.progress_seconds, progress_folder(staged, "clean"))
    unique = articles | "Deduplicate" >> deduplicate
    clustered = unique[ARTICLES] | "Stories" >> (stories or ClusterStories(story_options(opts)))
    errors = [read[ERRORS], cleaned[ERRORS]]
    tables = {DUPLICATES: unique[DUPLICATES]}
    if "files" in read:  # the files read (a Kafka stream has none)
        tables = {FILES: read["files"] | "FileRows" >> beam.Map(file_row), **tables}
    if annotate is None:
        tables[ARTICLES] = unique[ARTICLES] | "NlpDisabled" >> beam.Map(
            lambda a: {**a, "nlp_status": "disabled"})
    else:
        annotated = unique[ARTICLES] | "Annotate" >> annotate
        # A batch run knows how many articles it annotates (an ETA); a windowed one does not.
        total = (unique[ARTICLES] | "CountUnique" >> beam.combiners.Count.Globally()
                 if staged else None)
        tables[ARTICLES] = annotated.articles | "AnnotateProgress" >> Progress(
            "annotated", "articles", opts.progress_seconds, progress_folder(staged, "annotate"),
            total=total)
        tables.update({t: annotated[t] for t in registry.TABLES})
        errors.append(annotated[ERRORS])
    tables[ARTICLES] = tables[ARTICLES] | "StoryIds" >> AttachStoryIds(clustered[STORY_IDS])
    tables.update({STORIES: clustered[STORIES], SIGNATURES: clustered[SIGNATURES]})
    tables[ERRORS] = errors | "AllErrors" >> beam.Flatten()
    return tables


def annotate_first_tables(read: dict, opts: NewsOptions, deduplicate: beam.PTransform,
                          stories: ClusterStories | None = None,
                          staged: str | None = None) -> dict[str, beam.PCollection]:
    """The batch shape: read -> clean -> annotate in one fused stage, then deduplicate.

    No shuffle lies between cleaning and the parse, so a worker's NLP children parse
    batches while the worker cleans the next (``AnnotateBatchFn``): with one worker
    both cores work, and no worker waits for the slowest to finish cleaning. Each
    article carries its NLP rows through deduplication, which keeps one copy; only
    the kept copies' rows are written (copies in one bundle are parsed once, copies in
    different bundles once per bundle: the price of this shape).
    With a ``staged`` folder, each article's text and NLP rows wait in spill files
    (``transforms.spill``) from the fused stage to the one that writes them, so the
    stages between carry a few hundred bytes per article, whatever its length.
    Work is spread over workers by the read alone (``--balance``: bins of files)."""
    annotate = Annotate(annotate_config(opts), attach=True)
    documents = read["documents"] | "PrestartModel" >> annotate.prestart()
    cleaned = documents | "Clean" >> Clean(clean_config(opts))
    articles = cleaned.articles | "Progress" >> Progress(
        "cleaned", "articles", opts.progress_seconds, progress_folder(staged, "clean"))
    annotated = articles | "Annotate" >> annotate
    counted = annotated.articles | "AnnotateProgress" >> Progress(
        "annotated", "articles", opts.progress_seconds, progress_folder(staged, "annotate"))
    stories = stories or ClusterStories(story_options(opts))
    # Text and NLP rows go to spill files here; references travel in their place
    # through deduplication and stories, and are read back where the tables are written.
    signed = counted | "Signature" >> beam.Map(with_signature, stories.options.params)
    light = signed | "Spill" >> Spill(spill_folder(staged), ("text", ANNOTATIONS)) \
        if staged else signed
    unique = light | "Deduplicate" >> deduplicate
    clustered = unique[ARTICLES] | "Stories" >> stories
    with_ids = unique[ARTICLES] | "StoryIds" >> AttachStoryIds(clustered[STORY_IDS])
    if staged:  # each spill file read front to back
        with_ids = with_ids | "Restore" >> RestoreInOrder()
    kept = with_ids | "Unpack" >> UnpackAnnotations(article_table=ARTICLES)
    # Articles and NLP tables share one PCollection of (table, row): written in the
    # stage that restores them (``WriteTables``).
    tables = {FILES: read["files"] | "FileRows" >> beam.Map(file_row),
              DUPLICATES: unique[DUPLICATES],
              **{t: kept[RECORDS] for t in (ARTICLES, *registry.TABLES)},
              STORIES: clustered[STORIES], SIGNATURES: clustered[SIGNATURES]}
    tables[ERRORS] = [read[ERRORS], cleaned[ERRORS], annotated[ERRORS], kept[ERRORS]] \
        | "AllErrors" >> beam.Flatten()
    return tables


def build_pipeline(p: beam.Pipeline, opts: NewsOptions, output: str,
                   ingested_at: dt.datetime) -> list[str]:
    """Read, clean, deduplicate, annotate and write every table under ``output``;
    returns the names of the tables written."""
    tables = build_tables(p, opts, staged=output)
    tables | "Write" >> WriteTables(output, ingested_at)
    return list(tables)
