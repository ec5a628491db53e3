"""Installable package, and Beam's ``--setup_file`` for remote workers.

``pip install .`` installs the ``pipeline``, ``transforms`` and ``schemas``
packages with their pinned dependencies (including the spaCy model package), so
``--setup_file ./setup.py`` gives Dataflow, Flink or Spark workers the code,
the libraries and the model.
"""
from pathlib import Path

import setuptools

HERE = Path(__file__).parent


def _requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text().replace("\\\n", " ").splitlines()
    return [line.split("--hash")[0].strip() for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


setuptools.setup(
    name="news-ingest",
    version="0.1.0",
    description="Raw news HTML, WARC and JSONL to analytics-ready Parquet on Apache Beam.",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "transforms",
                                               "transforms.*", "schemas", "schemas.*"]),
    install_requires=_requirements("requirements.txt") + _requirements("requirements-model.txt"),
    extras_require={"test": _requirements("requirements-dev.txt")},
    entry_points={"console_scripts": ["news-pipeline=pipeline.run:main"]},
)
