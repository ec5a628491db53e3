"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``."""
import logging

# Beam's optional-dependency notices at import time are noise for a CLI user.
logging.getLogger().setLevel(logging.ERROR)

from pipeline.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
