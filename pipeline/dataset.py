"""The output dataset as a marked thing: what belongs to it, and what may be written there.

A dataset is a directory (local or object store) holding ``_dataset.json``, the
marker its first run wrote. A run writes only into an empty or new directory or
into a marked dataset, never reads an input inside it, and deletes only files
that match the names it gives its own files (``owned``): anything else a user
keeps in the tree survives every run.

The layout and the bookkeeping names are in ``schemas/layout.py``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

import schemas
from schemas.layout import BOOKKEEPING, JOURNAL, LOCK, MARKER, PARTITION_KEY, STAGING, SUMMARY, TRASH

FORMAT = "news-ingest dataset"

RUN_ID = r"\d{8}T\d{6}Z-[0-9a-f]{8}"
RUN_ID_RE = re.compile(rf"^{RUN_ID}$")
# A Parquet file a run published: <table>/ingest_date=D/<run_id>-....parquet.
_OWNED_FILE = re.compile(rf"^{PARTITION_KEY}=\d{{4}}-\d{{2}}-\d{{2}}/{RUN_ID}-[^/]+\.parquet$")


class DatasetError(Exception):
    """Bad usage of a dataset path: reported as one line, exit 2, nothing touched."""


def join(*parts: str) -> str:
    return FileSystems.join(*parts)


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) is None


def files_under(prefix: str) -> list[str]:
    """Every file below ``prefix`` (recursive); [] when it does not exist."""
    found = FileSystems.match([join(prefix, "**")])[0].metadata_list
    return sorted(m.path for m in found)


def relative(path: str, root: str) -> str:
    root = root.rstrip("/") + "/"
    return path[len(root):] if path.startswith(root) else path


def owned(table_relative: str) -> bool:
    """Whether a path relative to a table folder names a file a run published."""
    return bool(_OWNED_FILE.match(table_relative))


def table_files(output: str, table: str) -> list[str]:
    """The Parquet files a run published for ``table`` (all partitions)."""
    folder = join(output, table)
    return [f for f in files_under(folder) if owned(relative(f, folder))]


def _top_level(output: str) -> set[str]:
    """Names directly below ``output`` (folders and files)."""
    if is_local(output):
        return set(os.listdir(output)) if os.path.isdir(output) else set()
    return {relative(f, output).split("/", 1)[0] for f in files_under(output)}


# ------------------------------------------------------------------ the marker

@dataclass(frozen=True)
class Marker:
    schema_version: str
    created: str
    product_version: str

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "schema_version": self.schema_version,
                           "created": self.created, "product_version": self.product_version},
                          indent=2).encode()


def product_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("news-ingest")
    except metadata.PackageNotFoundError:
        return "unknown"


def read_marker(output: str) -> Marker | None:
    path = join(output, MARKER)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        data = json.loads(f.read().decode("utf-8"))
    if data.get("format") != FORMAT:
        raise DatasetError(f"--output {output}: {MARKER} is not a news-ingest marker")
    return Marker(str(data.get("schema_version")), data.get("created", ""),
                  data.get("product_version", ""))


def write_json(path: str, payload: bytes) -> None:
    """Write a small file whole: locally via a temporary name and a rename."""
    if is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return
    with FileSystems.create(path) as f:
        f.write(payload)


def write_marker(output: str, created: str | None = None) -> None:
    marker = Marker(schemas.SCHEMA_VERSION,
                    created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    product_version())
    write_json(join(output, MARKER), marker.to_json())


def _legacy(names: set[str]) -> bool:
    """A dataset an earlier version wrote (no marker): only its own names, a run record."""
    known = set(schemas.TABLES) | set(BOOKKEEPING)
    return SUMMARY in names and names <= known


def check_output(output: str, incremental: bool) -> str:
    """Why a run may write into ``output``: 'new', 'dataset' or 'legacy' (an
    unmarked dataset of an earlier version, adopted). Raises ``DatasetError``
    for a non-empty directory that is not a dataset, or a dataset this version
    cannot add to."""
    if is_local(output) and os.path.exists(output) and not os.path.isdir(output):
        raise DatasetError(f"--output {output} is a file, not a directory")
    marker = read_marker(output)
    names = _top_level(output)
    if marker is None:
        if names <= {LOCK, STAGING, JOURNAL, TRASH}:  # new, or a first run that failed
            return "new"
        if _legacy(names):
            return "legacy"
        shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        raise DatasetError(
            f"--output {output} is a non-empty directory that is not a news-ingest dataset "
            f"(no {MARKER}; it holds {shown}); choose a new or empty directory")
    if incremental and marker.schema_version != schemas.SCHEMA_VERSION:
        raise DatasetError(
            f"--output {output} has schema version {marker.schema_version}, this pipeline "
            f"writes {schemas.SCHEMA_VERSION}: --incremental cannot add to it (a full run "
            f"rebuilds it)")
    return "dataset"


def _fixed_prefix(pattern: str) -> str:
    """The part of an input path or glob before its first wildcard, as a folder."""
    cut = min([i for i in (pattern.find(c) for c in "*?[") if i >= 0], default=len(pattern))
    head = pattern[:cut]
    return head if cut == len(pattern) else head.rsplit("/", 1)[0]


def _normal(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path)) if is_local(path) else path.rstrip("/")


def inside(path: str, folder: str) -> bool:
    path, folder = _normal(path), _normal(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def check_inputs_outside(inputs: list[str], output: str) -> None:
    """Refuse inputs that lie inside the output (a run would delete or re-read them)."""
    for pattern in inputs:
        if inside(_fixed_prefix(pattern), output):
            raise DatasetError(f"--input {pattern} lies inside --output {output}; "
                               f"keep inputs outside the dataset")
