"""Launch one run: check the command line, lock the dataset, run the Beam
pipeline into staging, publish all-or-nothing, record the run.

Exit codes: 0 published, 1 the run failed (the dataset is unchanged), 2 bad
usage (nothing touched), 75 the dataset is locked by another run, 130 interrupted.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import time
import traceback

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline import cli, dataset
from pipeline.build import build_pipeline
from pipeline.interrupts import Interrupts
from pipeline.lock import DatasetLock, LockBusy
from pipeline.options import NewsOptions
from pipeline.publish import (PublishError, delete_tree, plan_publish, publish, recover,
                              remove_if_empty, remove_stale_scratch, staging_dir)
from pipeline.record import run_record
from pipeline.summary import counters, format_summary, summarise
from schemas.layout import new_run_id, row_count
from transforms.read import expand_input
from transforms.sandbox import zygote
from transforms.shaping.memory import send_inputs_in_parts
from transforms.write import write_empty_tables

EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 1, 2, 75, 130


class RunFailed(Exception):
    """The run finished but may not publish: nothing published, exit 1."""


def _local_runner(options: PipelineOptions):
    """With no --runner, Beam's in-process portable runner (what DirectRunner
    uses for batch), pinned so a run never waits on a Prism download."""
    if options.view_as(StandardOptions).runner:
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    send_inputs_in_parts()  # a worker holds a few MB of a stage's input, not all of it
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
        preloads.append(("transforms.nlp.model:worker_setup",
                         (opts.model, opts.nlp_chunk_chars, opts.nlp_parse)))
    return preloads


def _check_inputs(patterns: list[str]) -> None:
    """Every input pattern matches a file (a typo should not run)."""
    for pattern in patterns:
        if not FileSystems.match([expand_input(pattern)])[0].metadata_list:
            raise cli.UsageError(f"--input {pattern}: no such file, directory or match")


def preflight(opts: NewsOptions) -> str:
    """Every check that needs no lock; returns how the output qualifies."""
    if not opts.input or not opts.output:
        raise cli.UsageError(f"--input and --output are required; usage: {cli.USAGE}")
    dataset.check_inputs_outside(opts.input, opts.output)
    cli.check_output_writable(opts.output)
    _check_inputs(opts.input)
    cli.check_model(opts)
    return dataset.check_output(opts.output, opts.incremental)


def _quiet_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:  # Beam's notices and its failure tracebacks: the one-line error says it
        logging.getLogger().setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with Interrupts(quiet_workers="--debug" not in argv).installed() as interrupts:
        return _main(argv, interrupts)


def _main(argv: list[str], interrupts: Interrupts) -> int:
    debug = "--debug" in argv
    _quiet_logging(debug)
    try:
        text = cli.wants_help(argv)
        if text:
            with contextlib.suppress(BrokenPipeError):
                print(text, flush=True)
            return 0
        return _dispatch(cli.parse(argv))
    except (cli.UsageError, dataset.DatasetError) as exc:
        return cli.fail(str(exc), EXIT_USAGE)
    except LockBusy as exc:
        return cli.fail(str(exc), EXIT_LOCKED)
    except KeyboardInterrupt:
        print("interrupted; the published dataset is unchanged", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (RunFailed, PublishError) as exc:
        return cli.fail(f"{exc}; the published dataset is unchanged", EXIT_FAILED)
    except Exception as exc:  # noqa: BLE001 (one line for the user, the rest on --debug)
        if interrupts.seen:
            print("interrupted; the published dataset is unchanged", file=sys.stderr)
            return EXIT_INTERRUPTED
        if debug:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return cli.fail(f"run failed: {type(exc).__name__}: {first}; the published dataset is "
                        f"unchanged{'' if debug else ' (--debug shows the traceback)'}",
                        EXIT_FAILED)
    finally:
        zygote.stop_early()


def _dispatch(options: PipelineOptions) -> int:
    opts = options.view_as(NewsOptions)
    if opts.watch or opts.kafka_topic:  # streaming: its own assembly and lifecycle
        from pipeline.streaming import run_streaming
        if opts.output:
            dataset.check_output(opts.output, incremental=True)
        if opts.kafka_topic:
            _check_kafka_reachable(opts)
        with _dataset_lock(opts, new_run_id(dt.datetime.now(dt.timezone.utc))):
            with zygote.serve([]):  # its children start from scratch
                return run_streaming(options)
    preflight(opts)
    started_at = dt.datetime.now(dt.timezone.utc)
    run_id = new_run_id(started_at)
    with _dataset_lock(opts, run_id):
        with zygote.serve(zygote_preloads(options)):
            return _run_batch(options, opts, run_id, started_at)


def _check_kafka_reachable(opts: NewsOptions) -> None:
    """The brokers answer and the topic exists, before the dataset is touched."""
    from transforms.kafka import KafkaUnavailable, start_offsets

    try:
        start_offsets(opts.kafka_bootstrap_servers, opts.kafka_topic, opts.kafka_group_id)
    except KafkaUnavailable as exc:
        raise cli.UsageError(f"--kafka_topic: {exc}") from None


@contextlib.contextmanager
def _dataset_lock(opts: NewsOptions, run_id: str):
    """Hold the dataset: finish what killed runs left, mark it, then yield."""
    if not opts.output:
        yield
        return
    if dataset.is_local(opts.output):
        os.makedirs(opts.output, exist_ok=True)
    with DatasetLock(opts.output, run_id, opts.wait_for_lock, opts.break_lock):
        tables = list(_all_tables())
        for line in recover(opts.output, tables) + [
                f"removed {x} of a run that is gone" for x in remove_stale_scratch(opts.output)]:
            print(f"recovery: {line}", file=sys.stderr)
        if dataset.read_marker(opts.output) is None:
            dataset.write_marker(opts.output)
        yield


def _all_tables() -> list[str]:
    import schemas
    return list(schemas.TABLES)


def _staged_tables(options: PipelineOptions, opts: NewsOptions, staged: str,
                   ingested_at: dt.datetime):
    """Run the pipeline into ``staged``; (table names, Beam result)."""
    p = beam.Pipeline(runner=_local_runner(options), options=options)
    try:
        with p:
            tables = build_pipeline(p, opts, staged, ingested_at)
    finally:
        shutil.rmtree(p.local_tempdir, ignore_errors=True)
    return tables, getattr(p, "result", None)


def _empty_tables_to_write(opts: NewsOptions, tables: list[str]) -> list[str]:
    """Tables that get a schema-only file when they have no rows: all of them in a
    full run; in an incremental run only those the dataset does not have yet."""
    if not opts.incremental:
        return tables
    return [t for t in tables if not dataset.table_files(opts.output, t)]


def _refuse_to_publish(opts: NewsOptions, summary: dict) -> None:
    if summary["all_accounted"] is False:
        raise RunFailed(f"not every input is accounted for ({summary['inputs']} inputs, "
                        f"{summary['accounted']} articles + duplicates + errors): "
                        f"nothing published")
    if opts.incremental or opts.allow_empty or summary["articles"]:
        return
    held = row_count(dataset.table_files(opts.output, "articles"))
    if held:
        raise RunFailed(f"the inputs gave 0 articles ({summary['inputs']} inputs, "
                        f"{summary['errors']} errors); not replacing the dataset's {held} "
                        f"articles (pass --allow_empty to replace them)")


def _run_batch(options: PipelineOptions, opts: NewsOptions, run_id: str,
               started_at: dt.datetime) -> int:
    staged = staging_dir(opts.output, run_id)
    started = time.monotonic()
    try:
        tables, result = _staged_tables(options, opts, staged, started_at)
        write_empty_tables(staged, _empty_tables_to_write(opts, tables))
        summary = summarise(staged, tables, counters(result) if result else {},
                            time.monotonic() - started, run_id,
                            run_record(options, started_at))
        _refuse_to_publish(opts, summary)
        summary["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        plan = plan_publish(opts.output, run_id, tables, started_at.date().isoformat(),
                            replace=not opts.incremental, record=summary)
        publish(opts.output, plan, tables)
    except BaseException:  # its own staging goes on every exit path (publish took it on success)
        with contextlib.suppress(Exception):
            delete_tree(staged)
            remove_if_empty(dataset.join(opts.output, dataset.STAGING))
        raise
    print(format_summary(summary))
    return 0
