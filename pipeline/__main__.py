"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``."""
from pipeline.run import main

if __name__ == "__main__":
    raise SystemExit(main())
