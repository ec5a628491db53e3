"""Locating ``../shared`` (evaluation data kept out of the repository).

Scripts read it by path; when it is absent they skip, unless ``REQUIRE_SHARED=1``
(set by CI), which turns the skip into a failure.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_dir(override: str | None = None) -> Path:
    return Path(override or os.environ.get("NEWS_SHARED_DIR") or REPO.parent / "shared")


def require(path: Path) -> Path:
    """``path`` if it exists; otherwise exit: 0 (skip) or 1 when REQUIRE_SHARED=1."""
    if path.exists():
        return path
    required = os.environ.get("REQUIRE_SHARED") == "1"
    print(f"{'FAIL' if required else 'SKIP'}: {path} is absent "
          f"({'REQUIRE_SHARED=1' if required else 'set NEWS_SHARED_DIR to point at shared/'})")
    sys.exit(1 if required else 0)
