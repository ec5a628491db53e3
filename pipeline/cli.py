"""The command line, strictly: unknown options, bad values and wrong paths are
one-line errors (exit 2) before any work, and ``--help`` shows the product's options.

Beam's own ``PipelineOptions`` accept any flag and drop the ones nobody knows,
so ``--incremantal`` would silently run a full rebuild; here every flag must be
one of ours or one that some Beam ``PipelineOptions`` class declares.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import sys

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from pipeline.flags import PROG, USAGE, product_help
from pipeline.options import NewsOptions



class UsageError(Exception):
    """Bad usage: printed as ``error: <message>``, exit 2, nothing touched."""


def _option_classes(include_ours: bool = True) -> list[type]:
    classes = {}
    for cls in PipelineOptions.__subclasses__():
        if include_ours or cls is not NewsOptions:
            classes.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return list(classes.values())


def full_parser(include_ours: bool = True, kind: type = _BeamArgumentParser
                ) -> argparse.ArgumentParser:
    """A parser (of class ``kind``) with every option Beam and this product declare."""
    parser = kind(prog=PROG, allow_abbrev=False, add_help=False)
    for cls in _option_classes(include_ours):
        cls._add_argparse_args(parser)  # noqa: SLF001 (Beam's own extension point)
    return parser


def beam_help() -> str:
    parser = full_parser(include_ours=False)
    parser.usage = USAGE
    parser.description = "Beam's own options (the product's: --help)."
    return parser.format_help()


def _flag_names(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]  # noqa: SLF001


def _unknown_flag(unknown: list[str], known: list[str]) -> str:
    flag = next((a for a in unknown if a.startswith("-")), unknown[0])
    name = flag.split("=", 1)[0]
    if not name.startswith("-"):
        return f"unexpected argument {flag!r} (options start with --)"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else f"; see `{PROG} --help`"
    return f"unknown option {name}{hint}"


class _Quiet(_BeamArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit
        raise UsageError(message)


def parse(argv: list[str]) -> PipelineOptions:
    """Options from ``argv``; raises ``UsageError`` for any flag or value nobody knows."""
    parser = full_parser(kind=_Quiet)
    _, unknown = parser.parse_known_args(argv)
    if unknown:
        raise UsageError(_unknown_flag(unknown, _flag_names(parser)))
    options = PipelineOptions(argv)
    check_values(options.view_as(NewsOptions))
    check_kafka(options)
    return options


def known_extractors() -> tuple[str, ...]:
    """The extractor registry's names (``transforms/nlp/registry.py``)."""
    from transforms.nlp import registry

    return tuple(registry.EXTRACTORS)


def check_values(opts: NewsOptions) -> None:
    """Values argparse cannot check: extractor names, ranges."""
    known = known_extractors()
    chosen = [x.strip() for x in opts.extractors.split(",") if x.strip()]
    for name in chosen:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            raise UsageError(f"--extractors: unknown extractor {name!r}; {hint}")
    if not chosen and not opts.no_nlp:
        raise UsageError(f"--extractors is empty; known: {', '.join(known)} (or --no_nlp)")
    if not 0 < opts.story_threshold <= 1:
        raise UsageError(f"--story_threshold must be in (0, 1], got {opts.story_threshold}")
    for name in ("nlp_batch_size", "nlp_batch_chars", "nlp_chunk_chars", "max_document_bytes",
                 "story_shingle_words", "story_bands", "story_rows", "window_seconds"):
        if getattr(opts, name) <= 0:
            raise UsageError(f"--{name} must be positive, got {getattr(opts, name)}")
    for name in ("min_text_chars", "progress_seconds", "extract_timeout", "nlp_timeout",
                 "max_nlp_chars", "worker_max_rss_mb", "wait_for_lock", "stop_after_seconds",
                 "nlp_processes"):
        if getattr(opts, name) < 0:
            raise UsageError(f"--{name} must not be negative, got {getattr(opts, name)}")


# Runners that run Beam's Kafka connector (a Java cross-language transform): a portable
# job server (Flink's), Flink, Dataflow. The in-process ones (Direct, FnApi, Prism with
# no Java environment here) cannot.
KAFKA_RUNNERS = ("PortableRunner", "FlinkRunner", "DataflowRunner")
_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def check_kafka(options: PipelineOptions) -> None:
    """The Kafka input's options go together, with one input and a runner that can run it."""
    from apache_beam.options.pipeline_options import StandardOptions

    opts = options.view_as(NewsOptions)
    servers, topic = opts.kafka_bootstrap_servers, opts.kafka_topic
    if not servers and not topic:
        if opts.kafka_expansion_service:
            raise UsageError("--kafka_expansion_service needs --kafka_topic and "
                             "--kafka_bootstrap_servers")
        return
    if not servers:
        raise UsageError("--kafka_topic needs --kafka_bootstrap_servers HOST:PORT")
    if not topic:
        raise UsageError("--kafka_bootstrap_servers needs --kafka_topic TOPIC")
    for address in servers.split(","):
        match = _HOST_PORT.match(address.strip())
        if not match or not 0 < int(match[1]) < 65536:
            raise UsageError(f"--kafka_bootstrap_servers: {address!r} is not HOST:PORT")
    if opts.kafka_expansion_service and not _HOST_PORT.match(opts.kafka_expansion_service):
        raise UsageError(f"--kafka_expansion_service: {opts.kafka_expansion_service!r} "
                         f"is not HOST:PORT")
    if not _TOPIC.match(topic) or topic in (".", ".."):
        raise UsageError(f"--kafka_topic: {topic!r} is not a Kafka topic name "
                         f"(letters, digits, '.', '_', '-'; at most 249)")
    if opts.watch or opts.input:
        raise UsageError(f"--kafka_topic and {'--watch' if opts.watch else '--input'} are "
                         f"two inputs; a run reads one")
    if opts.stop_after_seconds:
        raise UsageError("--stop_after_seconds is for --watch; a Kafka stream runs until "
                         "cancelled (SIGINT/SIGTERM), and resumes where its windows were written")
    runner = options.view_as(StandardOptions).runner
    name = (runner or "").rsplit(".", 1)[-1]
    if name not in KAFKA_RUNNERS:
        shown = f"--runner={runner}" if runner else "the in-process runner (no --runner)"
        raise UsageError(f"--kafka_topic: {shown} cannot run Beam's Kafka connector (a Java "
                         f"cross-language transform); use a Flink job server "
                         f"(--runner=PortableRunner --job_endpoint=HOST:PORT, see "
                         f"scripts/flink.sh args) or --runner=DataflowRunner")
    if not opts.output:
        raise UsageError(f"--kafka_topic needs --output DIR; usage: {USAGE.splitlines()[-1].strip()}")


def check_model(opts: NewsOptions) -> None:
    """The spaCy model package is installed (asked of package metadata, as
    ``spacy.util.is_package`` does, without importing spaCy)."""
    if opts.no_nlp:
        return
    from importlib import metadata

    if not opts.model:
        from transforms.nlp.model import default_model
        opts.model = default_model()
    try:
        metadata.distribution(opts.model)
    except metadata.PackageNotFoundError:
        raise UsageError(f"--model {opts.model}: no such spaCy model package is installed "
                         f"(pip install it, or run with --no_nlp)") from None


def check_output_writable(output: str) -> None:
    """A local output's nearest existing folder must be writable."""
    from pipeline.dataset import is_local

    if not is_local(output):
        return
    path = os.path.abspath(os.path.expanduser(output))
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise UsageError(f"--output {output}: {path} is a file, not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--output {output}: {path} is not writable")


def wants_help(argv: list[str]) -> str | None:
    if "--help_beam" in argv:
        return beam_help()
    if "-h" in argv or "--help" in argv:
        return product_help()
    return None


def fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
