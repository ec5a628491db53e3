"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``."""
import logging

# Beam's optional-dependency notices at import time are noise for a CLI user.
logging.getLogger().setLevel(logging.ERROR)

from pipeline.run import main  # noqa: E402

if __name__ == "__main__":
    import os
    import sys

    code = main()
    # Every output is written and closed by now: skip the interpreter's teardown
    # of Beam, pyarrow and grpc (a few tenths of a second of a short run).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
