"""Stories: near-duplicate (syndicated) articles clustered, after deduplication.

One wire story runs on many sites with small edits (headline, dateline, a cut
last paragraph, a credit line, an ad paragraph). Each article gets a MinHash
signature of its normalised word shingles (``transforms.similarity``); the
signature's bands go through a ``GroupByKey`` (articles sharing a band are
candidates: never all pairs); candidate pairs are verified by the signatures'
estimated Jaccard against ``threshold``; stories are the connected components
of the verified edges.

Steps and their cost (n articles, b bands, v verified edges):

- ``Sign``: one signature per article (the text is dropped right after; an article
  whose text was spilled brings its ``SIGNATURE``, made before: ``with_signature``).
- ``Bands`` -> ``GroupByKey``: n * b small ``(band key, article id)`` records.
  A bucket of m articles yields a star of m - 1 candidate pairs from its first
  member (stored articles first, then by id), plus a star from its first *new*
  member when that differs: O(m) pairs, not m^2. A pair whose pivot is not
  similar can hide an edge only when the two never share a band elsewhere.
- ``Verify``: the pairs meet both signatures through two ``CoGroupByKey`` joins.
- ``Components``: the verified edges (only articles that have a copy: singletons
  never get here) are combined on one worker and solved by a union-find. This
  is the scale limit: v edges and the clustered articles must fit in one
  worker's memory (about 100 bytes each: tens of millions of copies). Iterating
  star contractions in the graph (Kiveris et al.) would lift it at the cost of a
  fixed number of shuffle rounds; copies are few next to articles, so one
  worker suffices for any single run here.
- ``Assemble``: members meet their component; each story picks its
  representative (earliest ``published``, undated last, ties by ``article_id``)
  whose id is the ``story_id``: the same inputs give the same ids on every run
  and runner.

Incremental runs read the ``signatures`` table (never the earlier articles) and
the latest ``stories`` row of each stored story: a new copy of a stored article
joins that article's story (its stored id is kept even if the new copy is
older: stored rows are not rewritten) and the story gets a new, cumulative
``stories`` row (the current state is its latest ``ingested_at``). Stored
stories are never merged with each other; a new article similar to two joins
the one of its earliest stored member.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.layout import SIGNATURES, STORIES, table_glob
from transforms.similarity import minhash
from transforms.similarity.components import components, representative_key
from transforms.similarity.lsh import bucket_pairs
from transforms.similarity.minhash import SignatureParams

STAGE = "stories"
STORY_IDS = "story_ids"
SIGNATURE = "_signature"  # an article's signature, computed before its text was spilled
KV = Tuple[str, Any]


@dataclasses.dataclass(frozen=True)
class StoryOptions:
    """The clustering's parameters (defaults: ``pipeline.options``)."""

    params: SignatureParams
    threshold: float


# -- per article -------------------------------------------------------------

def member(article: dict) -> dict:
    """What the stage keeps of an article: no text."""
    return {"article_id": article["article_id"], "published": article.get("published"),
            "hostname": article.get("hostname"), "title": article.get("title"),
            "stored_story": None}


def signature_bytes(text: str, params: SignatureParams) -> bytes | None:
    """A text's signature in storage form (None: no words)."""
    sig = minhash.signature(text, params)
    return None if sig is None else minhash.to_bytes(sig)


def with_signature(article: dict, params: SignatureParams) -> dict:
    """The article with its signature (``SIGNATURE``), for a stage that no longer
    has its text (``ClusterStories`` reads it instead)."""
    return {**article, SIGNATURE: signature_bytes(article["text"], params)}


class _SignFn(beam.DoFn):
    """Article -> ``(member, signature)``; a text without words is a singleton."""

    def __init__(self, params: SignatureParams):
        self.params = params
        self.signed = Metrics.counter(STAGE, "signatures")
        self.unsigned = Metrics.counter(STAGE, "articles_without_words")

    def process(self, article: dict):
        sig = article[SIGNATURE] if SIGNATURE in article else \
            signature_bytes(article["text"], self.params)
        (self.signed if sig is not None else self.unsigned).inc()
        yield member(article), sig


def stored_member(row: dict) -> dict:
    """A ``signatures`` row as a member of a stored story."""
    return {"article_id": row["article_id"], "published": row["published"],
            "hostname": None, "title": None, "stored_story": row["story_id"]}


# -- candidates --------------------------------------------------------------

class _CandidatesFn(beam.DoFn):
    def __init__(self):
        self.buckets = Metrics.counter(STAGE, "band_buckets_shared")
        self.largest = Metrics.distribution(STAGE, "band_bucket_size")
        self.pairs = Metrics.counter(STAGE, "candidate_pairs")

    def process(self, keyed):
        members = list(keyed[1])
        if len(members) < 2:
            return
        self.buckets.inc()
        self.largest.update(len(members))
        for pair in bucket_pairs(members):
            self.pairs.inc()
            yield pair


class _VerifyFn(beam.DoFn):
    """``(b, {"pair": [(a, sig_a)], "sig": [sig_b]})`` -> verified ``(a, b)`` edges."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.verified = Metrics.counter(STAGE, "verified_pairs")
        self.rejected = Metrics.counter(STAGE, "rejected_pairs")

    def process(self, joined):
        b, groups = joined
        for sig_b in groups["sig"]:
            for a, sig_a in groups["pair"]:
                similar = minhash.estimated_jaccard(
                    minhash.from_bytes(sig_a), minhash.from_bytes(sig_b)) >= self.threshold
                (self.verified if similar else self.rejected).inc()
                if similar:
                    yield a, b


def _pair_with_signature(joined):
    a, groups = joined
    for sig_a in groups["sig"]:
        for b in groups["pair"]:
            yield b, (a, sig_a)


def _memberships(edges: list[tuple[str, str]]):
    """All verified edges -> ``(article_id, component key)`` per clustered article."""
    for group in components(edges):
        for article_id in group:
            yield article_id, group[0]


# -- stories -----------------------------------------------------------------

def story_row(story_id: str, members: list[dict], stored: dict | None = None) -> dict:
    """A ``stories`` row; ``stored``: the story's latest stored row (incremental)."""
    ordered = sorted(members, key=lambda m: representative_key(m["published"], m["article_id"]))
    dates = [m["published"] for m in members if m["published"] is not None]
    sources = {m["hostname"] for m in members if m["hostname"]}
    articles = [m["article_id"] for m in ordered]
    title = next((m["title"] for m in ordered if m["article_id"] == story_id), None)
    if stored:
        dates += [d for d in (stored["first_published"], stored["last_published"]) if d]
        sources |= set(stored["sources"] or [])
        articles = list(stored["articles"]) + [a for a in articles if a not in stored["articles"]]
        title = stored["title"]
    return {"story_id": story_id, "articles": articles,
            "first_published": min(dates) if dates else None,
            "last_published": max(dates) if dates else None,
            "sources": sorted(sources), "title": title}


def choose_story(members: list[dict]) -> str:
    """The story of a component: its earliest stored member's story, else the
    id of its representative."""
    stored = [m for m in members if m["stored_story"]]
    pool = stored or members
    first = min(pool, key=lambda m: representative_key(m["published"], m["article_id"]))
    return first["stored_story"] or first["article_id"]


class _AssembleFn(beam.DoFn):
    """A component's members -> its ``stories`` row and the new members' ids."""

    def __init__(self):
        self.stories = Metrics.counter(STAGE, "stories_with_copies")
        self.attached = Metrics.counter(STAGE, "articles_attached_to_stored_stories")

    def process(self, keyed):
        _, groups = keyed
        members = list(groups["member"])
        new = [m for m in members if not m["stored_story"]]
        if not new:
            return
        story_id = choose_story(members)
        stored_rows = [r for r in groups.get("stored_story", ()) if r["story_id"] == story_id]
        if stored_rows:
            self.attached.inc(len(new))
        else:
            self.stories.inc()
        yield story_row(story_id, new, stored_rows[0] if stored_rows else None)
        for m in new:
            yield beam.pvalue.TaggedOutput(STORY_IDS, (m["article_id"], story_id))


def _latest(rows: Iterable[dict]) -> dict:
    """The current state of a stored story: its row with the latest ``ingested_at``."""
    return max(rows, key=lambda r: (r["ingested_at"], len(r["articles"])))


def _finish(joined, tag: str):
    """A new article and its story id (if it has copies) -> its ``signatures`` row
    (main) and, for a story of one, its ``stories`` row."""
    _, groups = joined
    story_ids = list(groups["story"])
    for m, sig in groups["new"]:
        story_id = story_ids[0] if story_ids else m["article_id"]
        if not story_ids:
            yield beam.pvalue.TaggedOutput(STORIES, story_row(story_id, [m]))
        if sig is not None:
            yield {"article_id": m["article_id"], "story_id": story_id,
                   "published": m["published"], "params": tag, "signature": sig}


def _band_records(m: tuple, params: SignatureParams):
    """``(band key, (is_new, article_id))`` for each band of a signed member."""
    member_, sig, is_new = m
    if sig is None:
        return
    for key in minhash.band_keys(minhash.from_bytes(sig), params):
        yield key, (is_new, member_["article_id"])


class _Candidates(beam.PTransform):
    """Signed members -> distinct candidate pairs ``(a, b)``, a < b: band keys
    through a ``GroupByKey``, a star per shared bucket."""

    def __init__(self, params: SignatureParams):
        super().__init__()
        self.params = params

    def expand(self, signed):
        return (signed
                | "Bands" >> beam.FlatMap(_band_records, self.params)
                | "GroupBands" >> beam.GroupByKey()
                | "Stars" >> beam.ParDo(_CandidatesFn())
                | "Distinct" >> beam.Distinct())


class _Verify(beam.PTransform):
    """Candidate pairs -> the pairs whose estimated Jaccard reaches ``threshold``;
    each pair meets its two signatures through two joins."""

    def __init__(self, signatures: beam.PCollection, threshold: float):
        super().__init__()
        self.signatures, self.threshold = signatures, threshold

    def expand(self, pairs):
        first = ({"pair": pairs, "sig": self.signatures}
                 | "JoinFirst" >> beam.CoGroupByKey()
                 | "CarryFirst" >> beam.FlatMap(_pair_with_signature))
        return ({"pair": first, "sig": self.signatures}
                | "JoinSecond" >> beam.CoGroupByKey()
                | "Verify" >> beam.ParDo(_VerifyFn(self.threshold)))


class ClusterStories(beam.PTransform):
    """Unique articles (their text, or their ``SIGNATURE``) -> ``stories`` and
    ``signatures`` rows, and ``story_ids``:
    ``(article_id, story_id)`` of every new article that has a copy (the others
    are stories of one: their own id). See the module docstring.

    ``stored_signatures`` / ``stored_stories``: rows of those tables already in
    the output (incremental runs), or None. Signatures made with other
    parameters (``SignatureParams.tag``) are left out and counted.
    """

    def __init__(self, options: StoryOptions, stored_signatures: beam.PCollection | None = None,
                 stored_stories: beam.PCollection | None = None):
        super().__init__()
        self.options = options
        self.stored_signatures, self.stored_stories = stored_signatures, stored_stories

    def expand(self, articles):
        params = self.options.params
        new = (articles | "Sign" >> beam.ParDo(_SignFn(params))
               | "New" >> beam.Map(lambda ms: (ms[0], ms[1], True)).with_output_types(Any))
        everyone = new
        if self.stored_signatures is not None:
            stored = (self.stored_signatures
                      | "Compatible" >> beam.ParDo(_CompatibleFn(params.tag))
                      | "StoredMember" >> beam.Map(
                          lambda r: (stored_member(r), r["signature"], False)).with_output_types(Any))
            everyone = (new, stored) | "NewAndStored" >> beam.Flatten()
        signatures = everyone | "SignatureById" >> beam.FlatMap(
            lambda m: [(m[0]["article_id"], m[1])] if m[1] is not None else []).with_output_types(KV)

        edges = (everyone | "Candidates" >> _Candidates(params)
                 | "Verified" >> _Verify(signatures, self.options.threshold))
        memberships = (edges
                       | "AllEdges" >> beam.CombineGlobally(
                           beam.combiners.ToListCombineFn()).without_defaults()
                       | "Components" >> beam.FlatMap(_memberships))
        by_component = ({"member": everyone | "MemberById" >> beam.Map(
                            lambda m: (m[0]["article_id"], m[0])).with_output_types(KV),
                         "component": memberships}
                        | "JoinComponent" >> beam.CoGroupByKey()
                        | "ByComponent" >> beam.FlatMap(
                            lambda kv: [(c, m) for c in kv[1]["component"] for m in kv[1]["member"]]))
        groups = {"member": by_component}
        if self.stored_stories is not None:
            groups["stored_story"] = self._stored_stories_by_component(by_component)
        clustered = (groups | "JoinGroups" >> beam.CoGroupByKey()
                     | "Assemble" >> beam.ParDo(_AssembleFn()).with_outputs(STORY_IDS, main=STORIES))

        finished = ({"new": new | "NewById" >> beam.Map(
                        lambda m: (m[0]["article_id"], (m[0], m[1]))).with_output_types(KV),
                     "story": clustered[STORY_IDS]}
                    | "JoinStoryIds" >> beam.CoGroupByKey()
                    | "Finish" >> beam.FlatMap(_finish, params.tag).with_outputs(
                        STORIES, main=SIGNATURES))
        stories = ((clustered[STORIES], finished[STORIES])
                   | "AllStories" >> beam.Flatten())
        return {STORIES: stories, SIGNATURES: finished[SIGNATURES],
                STORY_IDS: clustered[STORY_IDS]}

    def _stored_stories_by_component(self, by_component):
        """``(component, latest stored stories row)`` of each stored story a
        component touches."""
        touched = by_component | "StoredStoryOf" >> beam.FlatMap(
            lambda cm: [(cm[1]["stored_story"], cm[0])] if cm[1]["stored_story"] else [])
        latest = (self.stored_stories
                  | "StoryKey" >> beam.WithKeys(lambda r: r["story_id"])
                  | "LatestStored" >> beam.CombinePerKey(_latest))
        return ({"component": touched, "row": latest} | "JoinStored" >> beam.CoGroupByKey()
                | "StoredByComponent" >> beam.FlatMap(
                    lambda kv: [(c, r) for c in set(kv[1]["component"]) for r in kv[1]["row"]]))


class _CompatibleFn(beam.DoFn):
    """Stored signatures made with the same parameters; others are counted."""

    def __init__(self, tag: str):
        self.tag = tag
        self.incompatible = Metrics.counter(STAGE, "stored_signatures_other_parameters")

    def process(self, row: dict):
        if row["params"] == self.tag:
            yield row
        else:
            self.incompatible.inc()


def _attach(article: dict, story_ids: dict) -> dict:
    return {**article, "story_id": story_ids.get(article["article_id"], article["article_id"])}


def _attach_joined(joined):
    """``(article_id, {"article": [...], "story": [...]})`` -> the article with its story."""
    article_id, groups = joined
    story = next(iter(groups["story"]), article_id)
    for article in groups["article"]:
        yield {**article, "story_id": story}


class AttachStoryIds(beam.PTransform):
    """Articles -> articles with ``story_id`` (``ClusterStories``'s ``story_ids``:
    only articles with copies are in it; the others are their own story).

    Batch (global window): ``story_ids`` as a side input, so the articles are not
    shuffled. Windowed (streaming): a join by ``article_id`` instead, so that no
    article waits on a side input's window being declared complete (on Flink a
    watch job wrote nothing while a side input held it back).
    """

    def __init__(self, story_ids: beam.PCollection):
        super().__init__()
        self.story_ids = story_ids

    def expand(self, articles):
        if isinstance(articles.windowing.windowfn, GlobalWindows):
            return articles | "StoryId" >> beam.Map(_attach, beam.pvalue.AsDict(self.story_ids))
        return ({"article": articles | "ById" >> beam.WithKeys(lambda a: a["article_id"]),
                 "story": self.story_ids}
                | "JoinStoryIds" >> beam.CoGroupByKey()
                | "StoryId" >> beam.FlatMap(_attach_joined))


def story_options(opts) -> StoryOptions:
    """The stage's parameters from the command-line options (``pipeline.options``)."""
    return StoryOptions(SignatureParams(opts.story_shingle_words, opts.story_bands, opts.story_rows),
                        opts.story_threshold)


class ReadStored(beam.PTransform):
    """Pipeline start -> rows of a stored ``signatures`` or ``stories`` table."""

    COLUMNS = {SIGNATURES: ["article_id", "story_id", "published", "params", "signature"],
               STORIES: ["story_id", "articles", "first_published", "last_published",
                         "sources", "title", "ingested_at"]}

    def __init__(self, output: str, table: str):
        super().__init__()
        self.output, self.table = output, table

    def expand(self, pbegin):
        return pbegin | f"Read {self.table}" >> beam.io.ReadFromParquet(
            table_glob(self.output, self.table), columns=self.COLUMNS[self.table])
