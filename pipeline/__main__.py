"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``."""
import logging
import sys

if __name__ == "__main__" and "--no_zygote" not in sys.argv:
    # The zygote (transforms/sandbox/zygote.py) starts first, so its imports run while this
    # process imports Beam; pipeline.run hands it its preloads, or stops it.
    from transforms.sandbox import zygote

    zygote.start_early(("trafilatura", "spacy", "transforms.formats.page",
                        "transforms.nlp.model", "transforms.nlp.entities",
                        "transforms.nlp.figures", "transforms.nlp.quotes"))

# Beam's optional-dependency notices at import time are noise for a CLI user.
logging.getLogger().setLevel(logging.ERROR)

from pipeline.run import main  # noqa: E402

if __name__ == "__main__":
    import os

    code = main()
    # Every output is written and closed by now: skip the interpreter's teardown
    # of Beam, pyarrow and grpc (a few tenths of a second of a short run).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
