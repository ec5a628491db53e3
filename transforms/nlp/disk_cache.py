"""Derived data tables kept on disk between processes, as JSON.

Reading CLDR's locales or GeoNames' city files costs seconds that every worker
process (and every run) would pay again. A table is computed once and written to
``$NEWS_PIPELINE_CACHE`` (default ``$XDG_CACHE_HOME/news-pipeline``, else
``~/.cache/news-pipeline``) under a name that holds the versions it depends on;
a later process reads it back. A read-only or missing home only costs the time.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def cache_folder() -> Path:
    """Where the tables are kept."""
    return Path(os.environ.get("NEWS_PIPELINE_CACHE")
                or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "news-pipeline")


def source_digest(path: str) -> str:
    """A short digest of a source file: a table built by its code is renamed when the
    code changes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def cached_json(name: str, compute: Callable[[], Any]) -> Any:
    """The table kept as ``name``.json, else ``compute()`` (written for next time;
    write then rename, so concurrent workers never read a partial file)."""
    folder = cache_folder()
    path = folder / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False,
                                         suffix=".tmp") as tmp:
            json.dump(value, tmp, ensure_ascii=False)
        os.replace(tmp.name, path)
    except OSError:
        pass
    return value
