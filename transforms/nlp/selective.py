"""Selective analysis: NER on every sentence, the tagger and parser only where read.

spaCy's small English pipeline spends about as long in its tagger/parser branch
(``tok2vec``, ``tagger``, ``parser``, ``attribute_ruler``, ``lemmatizer``) as in its
NER. Entities need NER everywhere; the tagger and parser are read only near
quotation marks (the quote, its frame and the sentences before it, for speakers),
near figures (the counted noun) and around speech verbs (a speaker's subject).
``SelectivePipeline`` splits each text into sentences with the model's cheap
``senter``, asks the extractors which character spans they read
(``transforms.nlp.registry.Extractor.needs``), runs the tagger/parser branch on the
runs of sentences that hold such spans (with the sentences before them that an
extractor asks for) and NER on the whole text, and gives the extractors one ``Doc``. A sentence
left unparsed keeps its senter boundaries as a flat tree (its first token the root,
the rest attached with the label ``dep``) and no tags or lemmas.

Plain functions and a small class, no Beam; ``parse="full"`` in
``transforms.nlp.model.load_model`` switches back to the whole pipeline.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Callable, Iterable, Iterator, Sequence

PARSE_COMPONENTS = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
SENTENCE_COMPONENT = "senter"
UNPARSED_LABEL = "dep"   # spaCy's own label for an unclassified dependent

Spans = list[tuple[int, int]]


def sentence_bounds(doc) -> list[tuple[int, int]]:
    """``(start, end)`` token indices of each sentence of a ``Doc`` with sentence starts."""
    starts = [t.i for t in doc if t.is_sent_start] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    return list(zip(starts, starts[1:] + [len(doc)]))


def select_sentences(char_bounds: Sequence[tuple[int, int]], spans: Spans,
                     before: int = 0, chosen: list[bool] | None = None) -> list[bool]:
    """Per sentence (``(start_char, end_char)``, in order), whether it is parsed: it
    overlaps one of ``spans`` or lies at most ``before`` sentences before one that
    does (or ``chosen`` already says so)."""
    n = len(char_bounds)
    starts = [a for a, _ in char_bounds]
    chosen = list(chosen) if chosen is not None else [False] * n
    for lo, hi in spans:
        first = max(0, bisect_right(starts, lo) - 1)
        last = max(first, bisect_left(starts, max(hi, lo + 1)) - 1)
        for k in range(max(0, first - before), min(n, last + 1)):
            chosen[k] = True
    return chosen


def parsed_runs(chosen: Sequence[bool], bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` of consecutive chosen sentences."""
    runs: list[tuple[int, int]] = []
    for keep, (a, b) in zip(chosen, bounds):
        if not keep:
            continue
        if runs and runs[-1][1] == a:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return runs


class SelectivePipeline:
    """A loaded spaCy pipeline that parses only the sentences the extractors read.

    ``needs(doc) -> spans`` (a ``Doc`` with sentences and entities) names the character spans read (default: the registry's
    extractors). Behaves as the ``Language`` it wraps for everything else
    (``vocab``, ``max_length``, ``pipe_names``, ...). ``stats`` counts sentences and
    tokens seen and parsed.
    """

    def __init__(self, nlp, needs: Sequence[tuple[Callable[[object], Spans], int]]):
        self.nlp = nlp
        self.needs = list(needs)
        self.senter = nlp.get_pipe(SENTENCE_COMPONENT)
        self.branch = [(name, nlp.get_pipe(name)) for name in PARSE_COMPONENTS
                       if name in nlp.component_names]
        self.rest = [(name, proc) for name, proc in nlp.pipeline
                     if name not in PARSE_COMPONENTS and name != SENTENCE_COMPONENT]
        self._unparsed = nlp.vocab.strings.add(UNPARSED_LABEL)
        self._root = nlp.vocab.strings.add("ROOT")
        self.stats = {"sentences": 0, "sentences_parsed": 0, "tokens": 0, "tokens_parsed": 0}

    def __getattr__(self, name: str):
        return getattr(self.nlp, name)

    def __call__(self, text: str):
        return next(self.pipe([text]))

    def pipe(self, texts: Iterable[str], batch_size: int = 32) -> Iterator:
        """One annotated ``Doc`` per text, in order, ``batch_size`` texts at a time."""
        from spacy.util import minibatch

        for batch in minibatch(texts, batch_size):
            yield from self._batch(list(batch), batch_size)

    def _batch(self, texts: list[str], batch_size: int) -> list:
        docs = list(self.senter.pipe((self.nlp.make_doc(t) for t in texts),
                                     batch_size=batch_size))
        for _, proc in self.rest:   # NER first: the extractors' needs may read entities
            docs = list(proc.pipe(docs, batch_size=batch_size))
        plans = [self._plan(doc) for doc in docs]
        pieces = [self._piece(doc, a, b) for doc, (_, runs) in zip(docs, plans)
                  for a, b in runs]
        for _, proc in self.branch:
            pieces = list(proc.pipe(pieces, batch_size=batch_size))
        it = iter(pieces)
        for doc, (bounds, runs) in zip(docs, plans):
            self._merge(doc, bounds, runs, [next(it) for _ in runs])
        return docs

    def _plan(self, doc) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Sentence bounds (tokens) and the token runs to parse."""
        bounds = sentence_bounds(doc) if len(doc) else []
        chars = [(doc[a].idx, doc[b - 1].idx + len(doc[b - 1])) for a, b in bounds]
        chosen = [False] * len(bounds)
        for need, before in self.needs:
            chosen = select_sentences(chars, need(doc), before, chosen)
        runs = parsed_runs(chosen, bounds)
        self.stats["sentences"] += len(bounds)
        self.stats["sentences_parsed"] += sum(chosen)
        self.stats["tokens"] += len(doc)
        self.stats["tokens_parsed"] += sum(b - a for a, b in runs)
        return bounds, runs

    def _piece(self, doc, a: int, b: int):
        from spacy.tokens import Doc

        toks = doc[a:b]
        return Doc(doc.vocab, words=[t.text for t in toks],
                   spaces=[bool(t.whitespace_) for t in toks])

    def _merge(self, doc, bounds, runs, pieces) -> None:
        """Tags, lemmas and the parse of ``pieces`` into ``doc`` at ``runs``; every other
        sentence a flat tree, so ``doc.sents`` keeps the senter's boundaries."""
        import numpy
        from spacy.attrs import DEP, HEAD, LEMMA, MORPH, POS, TAG

        if not len(doc):
            return
        attrs = [TAG, POS, MORPH, LEMMA, DEP, HEAD]
        arr = numpy.zeros((len(doc), len(attrs)), dtype="uint64")
        for a, b in bounds:   # flat trees: heads are offsets (uint64 two's complement)
            arr[a, 4] = self._root
            arr[a + 1:b, 4] = self._unparsed
            arr[a + 1:b, 5] = (a - numpy.arange(a + 1, b, dtype="int64")).astype("uint64")
        for (a, b), piece in zip(runs, pieces):
            arr[a:b] = piece.to_array(attrs)
        doc.from_array(attrs, arr)
