"""The output dataset: a run writes to a staging folder, then publishes.

Layout: ``OUTPUT/<table>/ingest_date=YYYY-MM-DD/<run_id>-part-*.parquet``, read
with one glob (``OUTPUT/<table>/**/*.parquet``; DuckDB and Spark see the
``ingest_date`` partition column). A full run replaces each table; an
``--incremental`` run adds its files next to the earlier ones. A run that dies
before publishing leaves the published tables untouched; the next run removes
its staging folder.
"""
from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

from schemas.layout import STAGING, partition, staging_dir, table_dir  # noqa: F401


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
    _delete_tree(staging_dir(output))


def publish(output: str, run_id: str, tables: list[str], ingest_date: str,
            replace: bool = True) -> None:
    """Move each staged table into its ``ingest_date`` partition; with ``replace``,
    the table's earlier files are removed first."""
    staged = staging_dir(output, run_id)
    for table in tables:
        files = [f for f in _files_under(FileSystems.join(staged, table)) if f.endswith(".parquet")]
        target = FileSystems.join(table_dir(output, table), partition(ingest_date))
        if replace:
            _delete_tree(table_dir(output, table))
        if files:
            if FileSystems.get_scheme(target) is None:
                FileSystems.mkdirs(target) if not FileSystems.exists(target) else None
            FileSystems.rename(files, [FileSystems.join(target, f"{run_id}-{f.rsplit('/', 1)[-1]}")
                                       for f in files])
    clear_staging(output)


def table_files(output: str, table: str) -> list[str]:
    """The Parquet files of one table (all partitions)."""
    return [f for f in _files_under(table_dir(output, table)) if f.endswith(".parquet")]
