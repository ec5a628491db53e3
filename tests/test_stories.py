"""Story clustering: the plain logic (shingles, signatures, bands, union-find) and the
real pipeline on invented syndicated articles (copies clustered, a trap kept apart,
an incremental run attaching a new copy to a stored story)."""
from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys

import numpy as np
import pytest

from evaluation.syndication import add_credit_line, add_dateline, cut_last_paragraph
from tests.conftest import REPO, read_table, run_pipeline
from tests.story_fixtures import FERRY, LIBRARY, ORCHARD, write_page, write_syndicated
from transforms.similarity import minhash
from transforms.similarity.components import UnionFind, components, representative_key
from transforms.similarity.lsh import bucket_pairs, cluster
from transforms.similarity.minhash import SignatureParams
from transforms.similarity.shingles import jaccard, shingles, words
from transforms.stories import choose_story, story_row

PARAMS = SignatureParams(shingle_words=5, bands=32, rows=4)
TEXT = "\n\n".join(FERRY)


# -- shingles ----------------------------------------------------------------

def test_quotes_case_and_whitespace_do_not_change_shingles():
    straight = TEXT.replace("“", '"').replace("”", '"').replace("’", "'")
    assert shingles(straight, 5) == shingles(TEXT, 5)
    assert shingles("  THE Harbor\n\ttransit  authority VOTED ", 5) == {"the harbor transit authority voted"}
    assert words("Okafor’s “clean” ferries") == ["okafor", "s", "clean", "ferries"]


def test_shingles_are_consecutive_word_windows():
    assert shingles("a b c d e f", 5) == {"a b c d e", "b c d e f"}
    assert shingles("only three words", 5) == {"only three words"}
    assert shingles(" ... ", 5) == set()
    with pytest.raises(ValueError):
        shingles("a b", 0)


# -- signatures --------------------------------------------------------------

def test_signature_is_the_same_in_another_process_with_other_hash_seeds():
    here = minhash.to_bytes(minhash.signature(TEXT, PARAMS)).hex()
    code = ("import sys; from transforms.similarity import minhash as m; "
            "p = m.SignatureParams(5, 32, 4); "
            "print(m.to_bytes(m.signature(sys.stdin.read(), p)).hex())")
    for seed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", code], input=TEXT, capture_output=True,
                             text=True, cwd=REPO, env={"PYTHONHASHSEED": seed, "PATH": ""},
                             check=True).stdout.strip()
        assert out == here


def test_signature_round_trips_through_storage_and_has_num_perm_values():
    sig = minhash.signature(TEXT, PARAMS)
    assert sig.dtype == np.dtype("<u4") and len(sig) == PARAMS.num_perm == 128
    assert np.array_equal(minhash.from_bytes(minhash.to_bytes(sig)), sig)
    assert minhash.signature("", PARAMS) is None
    assert len(set(minhash.band_keys(sig, PARAMS))) == PARAMS.bands


def test_estimated_jaccard_tracks_the_exact_jaccard():
    rng = random.Random(3)
    base = " ".join(TEXT.split())
    for cut in (0.2, 0.5, 0.8):
        ws = base.split()
        keep = int(len(ws) * cut)
        other = " ".join(ws[:keep] + [f"w{rng.randrange(10**6)}" for _ in range(len(ws) - keep)])
        exact = jaccard(shingles(base, 5), shingles(other, 5))
        est = minhash.estimated_jaccard(minhash.signature(base, PARAMS), minhash.signature(other, PARAMS))
        assert abs(est - exact) < 4 * (exact * (1 - exact) / 128) ** 0.5 + 0.02, (cut, exact, est)


def test_candidate_probability_is_an_s_curve_around_the_threshold():
    p = [minhash.candidate_probability(s, PARAMS) for s in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert p == sorted(p) and p[0] < 0.01 and p[3] > 0.99


def test_threshold_decides_which_copies_join():
    ws = " ".join(FERRY).split()
    close = " ".join(ws[:-12])                                  # last words cut: J ~ 0.9
    half = " ".join(ws[: len(ws) // 2] + " ".join(ORCHARD).split())  # shares half: J < 0.5
    sigs = {n: minhash.signature(t, PARAMS) for n, t in
            {"a": " ".join(ws), "b": close, "c": half, "d": " ".join(LIBRARY)}.items()}
    at_07 = cluster(sigs, PARAMS, 0.7)
    assert at_07["a"] == at_07["b"] and len({at_07["a"], at_07["c"], at_07["d"]}) == 3
    j_ac = jaccard(shingles(" ".join(ws), 5), shingles(half, 5))
    assert 0.2 < j_ac < 0.5
    # at J ~ 0.3 the 32x4 bands seldom make a candidate at all; 64x2 bands do
    wide = SignatureParams(5, 64, 2)
    low = cluster({n: minhash.signature(t, wide) for n, t in
                   {"a": " ".join(ws), "b": close, "c": half, "d": " ".join(LIBRARY)}.items()},
                  wide, j_ac - 0.1)
    assert low["a"] == low["b"] == low["c"] != low["d"]
    assert len(set(cluster(sigs, PARAMS, 0.99).values())) == 4


# -- candidates, components, representatives ---------------------------------

def test_bucket_pairs_are_a_star_not_all_pairs():
    members = [(True, f"n{i:02d}") for i in range(50)]
    pairs = bucket_pairs(members)
    assert len(pairs) == 49 and all("n00" in p for p in pairs)
    mixed = bucket_pairs([(False, "s1"), (False, "s2"), (True, "n1"), (True, "n2")])
    assert ("s1", "s2") not in mixed and {("n1", "s1"), ("n2", "s1"), ("n1", "n2")} == set(mixed)
    assert bucket_pairs([(False, "s1"), (False, "s2")]) == []


def test_union_find_components():
    assert components([("a", "b"), ("c", "d"), ("b", "e"), ("f", "f")]) == [["a", "b", "e"], ["c", "d"]]
    uf = UnionFind()
    for i in range(999):
        uf.union(i, i + 1)
    assert uf.find(0) == uf.find(999) and len(uf.groups()) == 1


def test_representative_is_earliest_published_then_smallest_id():
    d = dt.date
    members = [{"article_id": "b", "published": d(2026, 3, 2)}, {"article_id": "z", "published": d(2026, 3, 1)},
               {"article_id": "a", "published": d(2026, 3, 1)}, {"article_id": "0", "published": None}]
    assert min(members, key=lambda m: representative_key(m["published"], m["article_id"]))["article_id"] == "a"
    rows = [{**m, "hostname": f"{m['article_id']}.example", "title": m["article_id"].upper(),
             "stored_story": None} for m in members]
    assert choose_story(rows) == "a"
    row = story_row("a", rows)
    assert row["articles"] == ["a", "z", "b", "0"] and row["title"] == "A"
    assert (row["first_published"], row["last_published"]) == (d(2026, 3, 1), d(2026, 3, 2))
    assert choose_story([*rows, {**rows[1], "article_id": "old", "stored_story": "S"}]) == "S"


# -- the real pipeline -------------------------------------------------------

@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    write_syndicated(inbox / "run1")
    out = tmp_path_factory.mktemp("out")
    run_pipeline(out, inbox / "run1", args=("--no_nlp",))
    return inbox, out


def _by_name(out, table="articles"):
    return {r["source"].rsplit("/", 1)[-1].removesuffix(".html"): r for r in read_table(out, table)}


def test_copies_share_the_story_of_the_earliest_and_the_trap_stays_apart(first_run):
    _, out = first_run
    arts = _by_name(out)
    ferry = {arts[n]["story_id"] for n in ("ferry-original", "ferry-copy1", "ferry-copy2")}
    assert len(ferry) == 1
    # original and copy2 are both from 2026-04-07: the smaller article_id represents
    expected = min(arts["ferry-original"]["article_id"], arts["ferry-copy2"]["article_id"])
    assert ferry == {expected}
    assert arts["ferry-trap"]["story_id"] == arts["ferry-trap"]["article_id"] != expected
    assert arts["orchard"]["story_id"] == arts["orchard"]["article_id"]


def test_stories_table_has_one_row_per_story(first_run):
    _, out = first_run
    arts = _by_name(out)
    stories = {r["story_id"]: r for r in read_table(out, "stories")}
    assert set(stories) == {a["story_id"] for a in arts.values()} and len(stories) == 3
    ferry = stories[arts["ferry-original"]["story_id"]]
    assert sorted(ferry["articles"]) == sorted(arts[n]["article_id"] for n in
                                               ("ferry-original", "ferry-copy1", "ferry-copy2"))
    assert (str(ferry["first_published"]), str(ferry["last_published"])) == ("2026-04-07", "2026-04-08")
    assert ferry["sources"] == sorted({arts[n]["hostname"] for n in
                                       ("ferry-original", "ferry-copy1", "ferry-copy2")})
    assert len(ferry["sources"]) == 3
    assert ferry["title"] == arts[[n for n in arts if arts[n]["article_id"] == ferry["story_id"]][0]]["title"]
    assert stories[arts["orchard"]["story_id"]]["articles"] == [arts["orchard"]["article_id"]]


def test_signatures_are_stored_for_every_article(first_run):
    _, out = first_run
    sigs = {r["article_id"]: r for r in read_table(out, "signatures")}
    arts = read_table(out, "articles")
    assert set(sigs) == {a["article_id"] for a in arts}
    for a in arts:
        assert sigs[a["article_id"]]["story_id"] == a["story_id"]
        assert len(sigs[a["article_id"]]["signature"]) == 4 * 128
        assert sigs[a["article_id"]]["params"] == PARAMS.tag


def test_incremental_run_attaches_a_new_copy_to_the_stored_story(first_run, tmp_path):
    import shutil
    inbox, first_out = first_run
    out = tmp_path / "out"
    shutil.copytree(first_out, out)
    rng = random.Random(9)
    before = _by_name(out)
    story = before["ferry-original"]["story_id"]
    run2 = inbox / "run2"
    # a copy published before every stored one: the stored id stays (stored rows are not rewritten)
    write_page(run2, "ferry-copy3", add_dateline(cut_last_paragraph(FERRY, rng), rng), 5,
           dt.date(2026, 4, 6), "Ferries: board says yes")
    write_page(run2, "library", LIBRARY, 6, dt.date(2026, 4, 10), "Library to open all night")
    run_pipeline(out, run2, args=("--no_nlp", "--incremental"))
    arts = _by_name(out)
    assert arts["ferry-copy3"]["story_id"] == story
    assert arts["library"]["story_id"] == arts["library"]["article_id"]
    assert {n: arts[n]["story_id"] for n in before} == {n: r["story_id"] for n, r in before.items()}
    rows = [r for r in read_table(out, "stories") if r["story_id"] == story]
    latest = max(rows, key=lambda r: r["ingested_at"])
    assert len(rows) == 2 and len(latest["articles"]) == 4
    assert arts["ferry-copy3"]["article_id"] in latest["articles"]
    assert str(latest["first_published"]) == "2026-04-06"
    assert len(latest["sources"]) == 4 and latest["title"] == next(
        r for r in rows if r["ingested_at"] < latest["ingested_at"])["title"]
    assert len(read_table(out, "signatures")) == 7


def test_streaming_windows_cluster_their_own_articles(tmp_path):
    """The --watch shape: stories within each window (not across windows)."""
    from apache_beam.testing import test_stream
    from apache_beam.transforms.window import TimestampedValue

    from tests.test_streaming import PARTITION, _run_test_stream, _window_files
    import apache_beam as beam

    from transforms.stories import (SIGNATURES, STORIES, STORY_IDS, AttachStoryIds, ClusterStories,
                                    StoryOptions)
    from transforms.write import WindowedFiles, WriteTables

    rng = random.Random(2)

    def art(name: str, paras: list[str], published: str) -> dict:
        return {"article_id": name, "text": "\n".join(paras), "hostname": f"{name}.example",
                "title": name, "published": dt.date.fromisoformat(published)}

    stream = (test_stream.TestStream().advance_watermark_to(0)
              .add_elements([TimestampedValue(art("f1", FERRY, "2026-04-08"), 1),
                             TimestampedValue(art("f2", add_dateline(FERRY, rng), "2026-04-07"), 2),
                             TimestampedValue(art("o1", ORCHARD, "2026-04-07"), 3)])
              .advance_watermark_to(10)
              .add_elements([TimestampedValue(art("f3", add_credit_line(FERRY, rng), "2026-04-09"), 11)])
              .advance_watermark_to_infinity())

    def expand(articles):
        out = articles | ClusterStories(StoryOptions(PARAMS, 0.7))
        with_ids = articles | AttachStoryIds(out[STORY_IDS])  # windowed: a join, no side input
        {STORIES: out[STORIES], SIGNATURES: out[SIGNATURES], "articles": with_ids
         | beam.Map(lambda a: {**a, "source": a["article_id"], "input_format": "html",
                               "word_count": 1, "content_hash": a["article_id"]})} | WriteTables(
            str(tmp_path), None, WindowedFiles(PARTITION, "run1", str(tmp_path / "_tmp")))

    _run_test_stream(stream, expand)
    stories = _window_files(tmp_path, STORIES)
    assert {w: sorted(tuple(r["articles"]) for r in rows) for w, rows in stories.items()} == {
        "19700101T000000Z": [("f2", "f1"), ("o1",)], "19700101T000010Z": [("f3",)]}
    assert {r["article_id"]: r["story_id"] for rows in _window_files(tmp_path, SIGNATURES).values()
            for r in rows} == {"f1": "f2", "f2": "f2", "o1": "o1", "f3": "f3"}
    assert {r["article_id"]: r["story_id"] for rows in _window_files(tmp_path, "articles").values()
            for r in rows} == {"f1": "f2", "f2": "f2", "o1": "o1", "f3": "f3"}
