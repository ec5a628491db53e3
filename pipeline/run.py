"""Launch one run: parse options, run the Beam pipeline, publish, summarise."""
from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.build import build_pipeline
from pipeline.options import NewsOptions
from pipeline.output import clear_staging, publish, staging_dir
from pipeline.summary import counters, format_summary, summarise, write_summary
from transforms.sandbox import zygote
from transforms.read import expand_input
from transforms.write import write_empty_tables


def _local_runner(options: PipelineOptions):
    """With no --runner, Beam's in-process portable runner (what DirectRunner
    uses for batch), pinned so a run never waits on a Prism download."""
    if options.view_as(StandardOptions).runner:
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    return FnApiRunner()


LOCAL_RUNNERS = (None, "DirectRunner", "PrismRunner", "FnApiRunner")


def zygote_preloads(options: PipelineOptions) -> list[tuple[str, tuple]]:
    """What the run's zygote preloads for its children (``transforms.sandbox.zygote``):
    nothing (no zygote) unless the workers run on this machine and inherit its
    environment (local runners, or any runner's LOOPBACK environment)."""
    from apache_beam.options.pipeline_options import PortableOptions

    opts = options.view_as(NewsOptions)
    runner = options.view_as(StandardOptions).runner
    loopback = options.view_as(PortableOptions).environment_type == "LOOPBACK"
    if opts.no_zygote or not (runner in LOCAL_RUNNERS or loopback):
        return []
    preloads = []
    if opts.extract_timeout > 0:
        preloads.append(("transforms.formats.page:warm_up", ()))
    if not opts.no_nlp and opts.nlp_timeout > 0:
        preloads.append(("transforms.nlp.model:worker_setup", (opts.model, opts.nlp_chunk_chars)))
    return preloads


def _check_inputs(patterns: list[str]) -> list[str]:
    """Input patterns that match no file at all (a typo should not run)."""
    missing = []
    for pattern in patterns:
        result = FileSystems.match([expand_input(pattern)])[0]
        if not result.metadata_list:
            missing.append(pattern)
    return missing


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = PipelineOptions(argv if argv is not None else sys.argv[1:])
    opts = options.view_as(NewsOptions)
    if opts.watch:  # streaming watch mode: its own assembly and lifecycle
        from pipeline.streaming import run_streaming
        with zygote.serve([]):  # its children start from scratch
            return run_streaming(options)
    if not opts.input or not opts.output:
        print("usage: python -m pipeline --input PATH_OR_GLOB [--input ...] --output DIR "
              "[Beam options]", file=sys.stderr)
        return 2
    missing = _check_inputs(opts.input)
    if missing:
        print(f"error: no input file matches {missing}", file=sys.stderr)
        return 2
    if not opts.no_nlp and not opts.model:
        from transforms.nlp.model import default_model
        opts.model = default_model()

    with zygote.serve(zygote_preloads(options)):
        return _run_batch(options, opts)


def _run_batch(options: PipelineOptions, opts: NewsOptions) -> int:
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    ingested_at = dt.datetime.now(dt.timezone.utc)
    clear_staging(opts.output)
    staged = staging_dir(opts.output, run_id)
    started = time.monotonic()
    with beam.Pipeline(runner=_local_runner(options), options=options) as p:
        tables = build_pipeline(p, opts, staged, ingested_at)
    write_empty_tables(staged, tables)
    result = getattr(p, "result", None)
    seconds = time.monotonic() - started
    summary = summarise(staged, tables, counters(result) if result else {},
                        seconds, run_id, {k: v for k, v in vars(opts).items()
                                          if k in ("input", "output", "model", "no_nlp", "incremental")})
    publish(opts.output, run_id, tables, ingested_at.date().isoformat(),
            replace=not opts.incremental)
    write_summary(opts.output, summary)
    print(format_summary(summary))
    return 0
