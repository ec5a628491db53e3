"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``."""
import logging
import os
import sys


def _help() -> int | None:
    """``--help`` needs no Beam: it works in any Python, even one without the deps."""
    if {"-h", "--help"} & set(sys.argv) and "--help_beam" not in sys.argv:
        from pipeline.flags import product_help

        print(product_help(), flush=True)
        return 0
    return None


def _launch() -> int:
    shown = _help()
    if shown is not None:
        return shown
    from pipeline import worker_fork
    from transforms.sandbox import zygote

    try:
        if "--no_zygote" not in sys.argv and "--help_beam" not in sys.argv:
            # The zygote (transforms/sandbox/zygote.py) starts first, so its imports run
            # while this process imports Beam; pipeline.run hands it its preloads, or stops it.
            zygote.start_early(("trafilatura", "spacy", "transforms.formats.page",
                                "transforms.nlp.model", "transforms.nlp.entities",
                                "transforms.nlp.figures", "transforms.nlp.quotes"))
        # Beam's optional-dependency notices at import time are noise for a CLI user.
        logging.getLogger().setLevel(logging.ERROR)
        from pipeline.run import main

        if worker_fork.wanted(sys.argv):  # SDK workers forked ready (pipeline/worker_fork.py)
            worker_fork.start_early(fork=True)  # from here: Beam and the pipeline imported
        return main()
    except ModuleNotFoundError as exc:  # a Python without the pinned dependencies
        print(f"error: {exc.name} is not installed in {sys.executable}; run ./run_local.sh "
              f"once (it creates .venv), then use .venv/bin/python -m pipeline",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before pipeline.run took over Ctrl-C
        print("interrupted; the published dataset is unchanged", file=sys.stderr)
        return 130
    finally:
        zygote.stop_early()
        worker_fork.stop()


if __name__ == "__main__":
    code = _launch()
    # Every output is written and closed by now: skip the interpreter's teardown
    # of Beam, pyarrow and grpc (a few tenths of a second of a short run).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
