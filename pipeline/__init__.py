"""The news-ingestion pipeline: options, assembly and the command line."""
from transforms.shaping.memory import prefer_returning_allocators

prefer_returning_allocators()  # before pyarrow is imported: Arrow reads its pool once
