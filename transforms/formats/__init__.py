"""Bytes to documents, no Beam: charset decoding and one page to one article row."""
