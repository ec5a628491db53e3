"""The output dataset: a run writes to a staging folder, then publishes.

Publishing replaces each table of the previous run with this run's files, so
re-running over the same inputs never duplicates rows, and a run that dies
before publishing leaves the previous output untouched (its staging folder is
removed by the next run).
"""
from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

STAGING = "_staging"


def staging_dir(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING, run_id)


def _files_under(prefix: str) -> list[str]:
    results = FileSystems.match([FileSystems.join(prefix, "**")])
    return [m.path for m in results[0].metadata_list]


def _delete_tree(path: str) -> None:
    files = _files_under(path)
    if files:
        FileSystems.delete(files)
    if FileSystems.exists(path):
        try:
            FileSystems.delete([path])
        except Exception:  # object stores have no folders to delete
            pass


def clear_staging(output: str) -> None:
    """Remove what earlier (killed) runs left in the staging folder."""
    _delete_tree(FileSystems.join(output, STAGING))


def publish(output: str, run_id: str, tables: list[str]) -> None:
    """Move each staged table into place, replacing the previous run's files."""
    staged = staging_dir(output, run_id)
    for table in tables:
        source, target = FileSystems.join(staged, table), FileSystems.join(output, table)
        files = _files_under(source)
        _delete_tree(target)
        if files:
            FileSystems.mkdirs(target) if FileSystems.get_scheme(target) is None else None
            FileSystems.rename(files, [target + f[len(source):] for f in files])
    _delete_tree(FileSystems.join(output, STAGING))


def table_files(output: str, table: str) -> list[str]:
    """The Parquet files of one published table."""
    return [f for f in _files_under(FileSystems.join(output, table)) if f.endswith(".parquet")]
