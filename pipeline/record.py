"""What a run record says about how the run was made: options, times, versions."""
from __future__ import annotations

import datetime as dt
import socket
from importlib import metadata

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import NewsOptions

_PACKAGES = ("news-ingest", "apache-beam", "trafilatura", "spacy", "pyarrow")


def _version(package: str | None) -> str | None:
    if not package:
        return None
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def versions(model: str | None) -> dict[str, str | None]:
    found = {name: _version(name) for name in _PACKAGES}
    found["model"] = f"{model} {_version(model)}" if model else None
    return found


def used_options(options: PipelineOptions) -> dict:
    """Every product option with the value the run used, plus the Beam options
    given explicitly (Beam's defaults are Beam's)."""
    ours = dict(sorted(options.view_as(NewsOptions).get_all_options(current_only=True).items()))
    beam = options.get_all_options(drop_default=True)
    return {"news": ours,
            "beam": {k: v for k, v in sorted(beam.items()) if k not in ours}}


def run_record(options: PipelineOptions, started_at: dt.datetime) -> dict:
    return {"started_at": started_at.isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "options": used_options(options),
            "versions": versions(options.view_as(NewsOptions).model)}
