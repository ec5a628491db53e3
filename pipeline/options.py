"""Command-line options of the pipeline, as a Beam ``PipelineOptions`` view."""
from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.flags import add_product_options


class NewsOptions(PipelineOptions):
    """``python -m pipeline --input PATH --output DIR [Beam options]``: the options
    of ``pipeline/flags.py``, by group, read as attributes of this view."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_product_options(parser)
