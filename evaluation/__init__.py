"""Evaluation scripts: quality of the pipeline's tables on ../shared gold data."""
