"""pyarrow schemas of every output table: the single source of truth.

A change to any schema is deliberate: bump ``SCHEMA_VERSION`` and note it in the
README's changelog. The version is stored in each Parquet file's metadata.

Offsets (``start``, ``end``, ``first_start``) are Python string indices (Unicode
code points) into ``articles.text``, end exclusive: in DuckDB,
``substr(text, start + 1, "end" - start)``.
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "2"  # 2: articles.story_id, stories, signatures

TIMESTAMP = pa.timestamp("us", tz="UTC")

# Key column shared by every article-derived table.
ARTICLE_ID = pa.field("article_id", pa.string(), nullable=False)


def _schema(name: str, *fields: pa.Field) -> pa.Schema:
    return pa.schema(list(fields), metadata={
        "table": name, "schema_version": SCHEMA_VERSION})


ARTICLES = _schema(
    "articles",
    ARTICLE_ID,
    pa.field("source", pa.string(), nullable=False),   # path, path#<WARC-Record-ID>, path:<line>
    pa.field("input_format", pa.string(), nullable=False),  # html | warc | jsonl
    pa.field("url", pa.string()),
    pa.field("title", pa.string()),
    pa.field("author", pa.string()),
    pa.field("published", pa.date32()),
    pa.field("sitename", pa.string()),
    pa.field("hostname", pa.string()),
    pa.field("description", pa.string()),
    pa.field("categories", pa.list_(pa.string())),
    pa.field("tags", pa.list_(pa.string())),
    pa.field("language", pa.string()),
    pa.field("encoding", pa.string()),          # charset the raw bytes were decoded with
    pa.field("text", pa.string(), nullable=False),
    pa.field("word_count", pa.int32(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("nlp_status", pa.string()),        # ok | truncated | skipped_language | error | disabled
    pa.field("fetched_at", TIMESTAMP),          # WARC-Date where known
    pa.field("ingested_at", TIMESTAMP, nullable=False),
    pa.field("story_id", pa.string()),          # stories.story_id (its own id when alone)
)

ERRORS = _schema(
    "errors",
    pa.field("source", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),    # read | decode | clean | dedupe | annotate | write
    pa.field("error", pa.string(), nullable=False),    # exception type or error code
    pa.field("message", pa.string(), nullable=False),
    pa.field("article_id", pa.string()),               # set when the article itself was kept
    pa.field("detail", pa.string()),                   # truncated traceback
    pa.field("ingested_at", TIMESTAMP, nullable=False),
)

DUPLICATES = _schema(
    "duplicates",
    pa.field("source", pa.string(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string(), nullable=False),         # article_id kept
    pa.field("duplicate_of_source", pa.string(), nullable=False),
    pa.field("ingested_at", TIMESTAMP, nullable=False),
)

FILES = _schema(
    "files",
    pa.field("path", pa.string(), nullable=False),
    pa.field("size_bytes", pa.int64()),
    pa.field("modified_at", TIMESTAMP),
    pa.field("ingested_at", TIMESTAMP, nullable=False),
)

ENTITIES = _schema(
    "entities",
    ARTICLE_ID,
    pa.field("name", pa.string(), nullable=False),     # canonical form within the article
    pa.field("label", pa.string(), nullable=False),    # PERSON, ORG, GPE, ...
    pa.field("mentions", pa.int32(), nullable=False),
    pa.field("first_start", pa.int32(), nullable=False),
    pa.field("surface_forms", pa.list_(pa.string()), nullable=False),
)

MENTIONS = _schema(
    "mentions",
    ARTICLE_ID,
    pa.field("start", pa.int32(), nullable=False),
    pa.field("end", pa.int32(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("name", pa.string(), nullable=False),     # canonical entity name
)

FIGURES = _schema(
    "figures",
    ARTICLE_ID,
    pa.field("text", pa.string(), nullable=False),     # surface, with qualifier words
    pa.field("kind", pa.string(), nullable=False),     # money | percent | count | quantity | duration
    pa.field("value", pa.float64()),
    pa.field("value_high", pa.float64()),
    pa.field("unit", pa.string()),
    pa.field("currency_inferred", pa.bool_()),
    pa.field("qualifier", pa.string()),  # approx | more_than | less_than | at_least | at_most | up_to
    pa.field("start", pa.int32(), nullable=False),
    pa.field("end", pa.int32(), nullable=False),
    pa.field("sentence", pa.string()),
)

QUOTES = _schema(
    "quotes",
    ARTICLE_ID,
    pa.field("quote", pa.string(), nullable=False),    # the words inside the marks
    pa.field("start", pa.int32(), nullable=False),
    pa.field("end", pa.int32(), nullable=False),
    pa.field("speaker", pa.string()),                  # canonical name, as in entities.name
    pa.field("speaker_mention", pa.string()),
    pa.field("speaker_label", pa.string()),            # PERSON | ORG | GPE | unnamed
    pa.field("speaker_title", pa.string()),
    pa.field("cue", pa.string()),
    pa.field("kind", pa.string(), nullable=False),     # full | partial
    pa.field("continues_previous", pa.bool_(), nullable=False),
    pa.field("rule", pa.string()),
    pa.field("confidence", pa.float32()),
)

STORIES = _schema(
    "stories",  # one row per story per run that added articles to it (latest: current)
    pa.field("story_id", pa.string(), nullable=False),  # article_id of the representative
    pa.field("articles", pa.list_(pa.string()), nullable=False),  # earliest published first
    pa.field("first_published", pa.date32()),
    pa.field("last_published", pa.date32()),
    pa.field("sources", pa.list_(pa.string()), nullable=False),  # hostnames, sorted
    pa.field("title", pa.string()),                     # the representative's
    pa.field("ingested_at", TIMESTAMP, nullable=False),
)

SIGNATURES = _schema(
    "signatures",  # kept so --incremental runs attach new copies without the old texts
    ARTICLE_ID,
    pa.field("story_id", pa.string(), nullable=False),
    pa.field("published", pa.date32()),
    pa.field("params", pa.string(), nullable=False),    # how it was made (SignatureParams.tag)
    pa.field("signature", pa.binary(), nullable=False),  # MinHash: little-endian uint32 each
    pa.field("ingested_at", TIMESTAMP, nullable=False),
)

TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "errors": ERRORS,
    "duplicates": DUPLICATES,
    "files": FILES,
    "entities": ENTITIES,
    "mentions": MENTIONS,
    "figures": FIGURES,
    "quotes": QUOTES,
    "stories": STORIES,
    "signatures": SIGNATURES,
}
