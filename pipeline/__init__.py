"""The news-ingestion pipeline: options, assembly and the command line."""
