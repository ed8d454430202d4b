"""The store suite: every `Store` implementation must pass it (segments on disk, and memory).

BM25 figures are checked against rank-bm25 on a store that was built in several writes, with
removals and replacements, so global statistics over live passages are what is tested.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval import Analyzer, SearchParams
from retrieval.index.memory import MemoryStore
from retrieval.index.segments.store import SegmentStore
from retrieval.index.store import Searcher, Store
from retrieval.models import Article
from tests.conftest import CORPUS, SHARED_DATA

SEED = [p for p in (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8").split("\n\n") if p.strip()]
OKAPI = SearchParams("okapi", 1.5, 0.75)
MakeStore = Callable[..., Store]


@pytest.fixture(params=["segments", "memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, analyzer: Analyzer) -> MakeStore:
    def make(params: SearchParams | None = None) -> Store:
        if request.param == "segments":
            return SegmentStore(tmp_path / f"index-{random.random()}", analyzer, params)
        return MemoryStore(analyzer, params)

    return make


def _articles(paragraphs: list[str], per: int = 4, prefix: str = "a") -> list[Article]:
    return [
        Article(f"{prefix}{i}", f"Title {i}", tuple(paragraphs[lo : lo + per]))
        for i, lo in enumerate(range(0, len(paragraphs), per))
    ]


def _grown(store: Store, paragraphs: list[str]) -> Store:
    """The articles added in three writes, one removed, one replaced by shorter text."""
    arts = _articles(paragraphs)
    third = max(1, len(arts) // 3)
    store.add(arts[:third])
    store.add(arts[third : 2 * third])
    store.add(arts[2 * third :])
    store.remove([arts[1].id])
    store.replace([Article(arts[2].id, "Replaced", arts[0].paragraphs[:2])])
    return store


def _assert_okapi_parity(store: Store, questions: list[list[str]]) -> int:
    snap = store.snapshot()
    uids = snap.uids()
    oracle = BM25Okapi([snap.passage_terms(int(u)) for u in uids], k1=OKAPI.k1, b=OKAPI.b)
    checked = 0
    for terms in questions:
        if not terms:
            continue
        got_uids, ours = snap.scores(terms)
        assert (got_uids == uids).all()
        ref = oracle.get_scores(terms)
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
        top = {u for u, _ in snap.search(terms, 10)}
        assert top == {int(uids[i]) for i in np.argsort(-ref, kind="stable")[:10] if ref[i] > 0}
        checked += 1
    return checked


def test_okapi_matches_rank_bm25_after_adds_removals_and_replacements(
    make_store: MakeStore, analyzer: Analyzer
) -> None:
    store = _grown(make_store(OKAPI), SEED)
    questions = [
        "What did the Kremlin say?",
        "크렘린궁은 뭐라고 했나요?",
        "Putin Clubhouse Musk",
        "푸틴 대통령 클럽하우스 머스크",
        "social media app",
    ]
    assert _assert_okapi_parity(store, [analyzer.terms(q) for q in questions]) >= 4
    snap = store.snapshot()
    vocab = sorted({t for u in snap.uids() for t in snap.passage_terms(int(u))})
    rng = random.Random(7)
    assert _assert_okapi_parity(store, [[rng.choice(vocab) for _ in range(rng.randint(1, 6))] for _ in range(40)]) == 40


def test_okapi_matches_rank_bm25_on_korquad(make_store: MakeStore, analyzer: Analyzer) -> None:
    path = SHARED_DATA / "KorQuAD_v1.0_dev.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = json.loads(path.read_text("utf-8"))["data"]
    paras = [p for art in data for p in art["paragraphs"]][:240]
    store = _grown(make_store(OKAPI), [p["context"] for p in paras])
    questions = [analyzer.terms(qa["question"]) for p in paras[::8] for qa in p["qas"][:1]]
    assert _assert_okapi_parity(store, questions) >= len(questions) // 2


def test_scores_equal_one_store_built_from_the_live_articles(make_store: MakeStore, analyzer: Analyzer) -> None:
    """Global N, average length and df over live passages: a grown store scores as a fresh one."""
    grown = _grown(make_store(), SEED).snapshot()
    built = make_store()
    built.add(
        [
            Article(a.meta.id, a.meta.title, tuple(grown.passage(int(u)).text for u in _uids_of(grown, a.meta.id)))
            for a in grown.articles()
        ]
    )
    fresh = built.snapshot()
    assert grown.n_passages == fresh.n_passages
    for q in ["Kremlin said", "크렘린궁", "Clubhouse app Musk", "invited Putin"]:
        terms = analyzer.terms(q)
        by_key = lambda s: {
            (s.passage(u).article.id, s.passage(u).paragraph): round(sc, 9) for u, sc in s.search(terms, 50)
        }  # noqa: E731
        assert by_key(grown) == by_key(fresh)
        np.testing.assert_allclose(grown.idf(terms), fresh.idf(terms))


def _uids_of(snap: Searcher, article_id: str) -> list[int]:
    return [int(u) for u in snap.uids() if snap.passage(int(u)).article.id == article_id]


def test_passage_view_holds_text_sentences_and_terms(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add(
        [Article("k", "Kremlin", ("Putin met Musk. The Kremlin said it was interesting.", "크렘린궁 대변인은 말했다."))]
    )
    snap = store.snapshot()
    first, second = (snap.passage(int(u)) for u in snap.uids())
    assert first.text.startswith("Putin met Musk.") and first.paragraph == 1 and first.language == "en"
    assert [first.text[s:e] for s, e in zip(first.starts, first.ends)] == [
        "Putin met Musk.",
        "The Kremlin said it was interesting.",
    ]
    kremlin = first.ids(["kremlin"])[0]
    assert kremlin >= 0 and kremlin in first.sentence_tokens(1) and kremlin not in first.sentence_tokens(0)
    assert first.ids(["nowhere-term"])[0] == -1
    assert (
        second.language == "ko"
        and second.paragraph == 2
        and second.article.id == "k"
        and second.article.title == "Kremlin"
    )


def test_remove_and_replace(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add([Article("a", "A", ("Aardvarks eat ants at night.",)), Article("b", "B", ("Zebras have stripes.",))])
    snap = store.snapshot()
    old = snap.search(["aardvark"], 5)
    assert len(old) == 1 and snap.df("aardvark") == 1
    report = store.replace([Article("a", "A2", ("Aardvarks sleep in burrows by day.",))])
    assert report.added == ("a",)
    snap = store.snapshot()
    [(uid, _)] = snap.search(analyzer.terms("aardvark burrow"), 5)
    assert uid != old[0][0] and snap.passage(uid).text == "Aardvarks sleep in burrows by day."
    with pytest.raises(KeyError):
        snap.passage(old[0][0])
    assert snap.article("a").title == "A2"  # type: ignore[union-attr]
    assert store.remove(["a", "nope"]).removed == ("a",)
    snap = store.snapshot()
    assert snap.search(analyzer.terms("aardvark"), 5) == [] and snap.df("aardvark") == 0
    assert [a.meta.id for a in snap.articles()] == ["b"] and snap.article("a") is None
    assert snap.n_passages == 1 and snap.article_hashes().keys() == {"b"}


def test_a_snapshot_never_sees_later_writes(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add([Article("a", "A", ("Okapis live in the Ituri rainforest.",))])
    snap = store.snapshot()
    uid = int(snap.uids()[0])
    store.replace([Article("a", "A", ("Okapis eat leaves.",))])
    store.add([Article("b", "B", ("Okapis are shy.",))])
    assert snap.n_passages == 1 and snap.passage(uid).text == "Okapis live in the Ituri rainforest."
    assert [u for u, _ in snap.search(["okapi"], 5)] == [uid]
    later = store.snapshot()
    assert later.n_passages == 2 and uid not in later.uids().tolist() and later.generation > snap.generation


def test_reads_and_writes_are_two_objects(make_store: MakeStore) -> None:
    """The store is written and hands out snapshots; a snapshot is read and cannot be written."""
    store = make_store()
    snap = store.snapshot()
    assert isinstance(store, Store) and not isinstance(store, Searcher)
    assert isinstance(snap, Searcher) and not isinstance(snap, Store)
    assert not any(hasattr(snap, w) for w in ("apply", "add", "replace", "remove", "writing"))
    assert not any(hasattr(store, r) for r in ("search", "passage", "df", "articles", "n_passages"))


def test_terms_df_and_near_terms(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add([Article("a", "A", ("The ctenophores glow.", "Ctenophores drift."))])
    store.add([Article("b", "B", ("Jellyfish drift too.",))])
    term = analyzer.english_term("ctenophores")
    snap = store.snapshot()
    assert snap.df(term) == 2 and snap.df("drift") == 2 and snap.df("absent") == 0
    assert snap.near_terms(term[:3] + "h" + term[3:]) == {term: 2}
    idf = snap.idf([term, "absent"])
    assert idf[0] > 0 and idf[1] == 0


def test_listing_extra_and_stable_uids(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add([Article("n1", "One", ("Korean 뉴스 기사 본문입니다.", "English text."), source="Wire")])
    store.apply(
        __import__("retrieval.index.store", fromlist=["Change"]).Change(
            add=(Article("n2", "Two", ("둘째 기사.",)),), extra={"k": [1, 2]}
        )
    )
    snap = store.snapshot()
    rows = snap.articles()
    assert [(r.meta.id, r.passages) for r in rows] == [("n1", 2), ("n2", 1)]
    assert rows[0].languages == ("en", "ko") and rows[1].languages == ("ko",) and rows[0].meta.source == "Wire"
    assert snap.extra() == {"k": [1, 2]}
    assert snap.uids().tolist() == [0, 1, 2]
    store.remove(["n1"])
    store.add([Article("n3", "Three", ("Third.",))])
    assert store.snapshot().uids().tolist() == [2, 3]  # uids are never reused


def test_empty_store(make_store: MakeStore) -> None:
    snap = make_store().snapshot()
    assert snap.n_passages == 0 and snap.search(["x"], 10) == [] and snap.articles() == []
    assert snap.uids().tolist() == [] and snap.df("x") == 0


def test_affix_terms_find_compounds_across_writes(make_store: MakeStore, analyzer: Analyzer) -> None:
    store = make_store()
    store.add([Article("a", "A", ("크렘린궁 대변인이 말했다.",))])
    store.add([Article("b", "B", ("크렘린궁과 백악관.", "신크렘린 운동."))])
    store.remove(["nothing"])
    found = store.snapshot().affix_terms("크렘린")
    assert found.get("크렘린궁") == 2 and found.get("신크렘린") == 1 and "크렘린" not in found
    store.remove(["b"])
    assert store.snapshot().affix_terms("크렘린") == {"크렘린궁": 1}


def test_lookups_by_id_hash_and_text_without_a_listing(make_store: MakeStore, analyzer: Analyzer) -> None:
    from retrieval.index.store import ArticleMeta

    store = make_store()
    a = Article("a", "A", ("Okapis live in the Ituri rainforest.",))
    b = Article("b", "B", ("Zebras have stripes.",))
    store.add([a])
    store.add([b])
    ma, mb = ArticleMeta.of(a), ArticleMeta.of(b)
    snap = store.snapshot()
    assert snap.article_by("hash", mb.hash).id == "b" and snap.article_by("text_hash", ma.text_hash).id == "a"  # type: ignore[union-attr]
    assert snap.article_by("id", "a").title == "A" and snap.article_by("hash", "0" * 40) is None  # type: ignore[union-attr]
    assert snap.n_articles == 2
    store.remove(["a"])
    assert store.snapshot().article_by("text_hash", ma.text_hash) is None and store.snapshot().n_articles == 1
