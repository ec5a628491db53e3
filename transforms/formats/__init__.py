"""Bytes to documents to article rows, no Beam: the readers (html, warc, jsonl), charset
decoding, and one page to one article row."""
