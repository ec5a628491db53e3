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
                 "max_nlp_chars", "worker_max_rss_mb", "wait_for_lock", "stop_after_seconds"):
        if getattr(opts, name) < 0:
            raise UsageError(f"--{name} must not be negative, got {getattr(opts, name)}")


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
