"""Candidate sources and the fusion point (retrieval/answer/retrieve/), through the real re-rank."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from retrieval import Engine
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query, QueryWeights, build_query, unknown_idf
from retrieval.answer.rerank import Coverage, RerankWeights, retrieve
from retrieval.answer.retrieve import Hits, Joined
from retrieval.answer.retrieve.lexical import Lexical


@dataclass(frozen=True)
class Fixed:
    """A stand-in for a second (dense) source: proposes the passages it is given."""

    hits: tuple[tuple[int, float], ...]
    name: str = "fixed"

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits:
        return list(self.hits[:k])


def _setup(engine: Engine, question: str) -> tuple[QuestionContext, Query]:
    snap = engine.store.snapshot()
    words = engine.analyzer.question_words(question)
    return QuestionContext(snap, engine.analyzer, words=words), build_query(
        words, snap, QueryWeights(), unknown_idf(snap.n_passages)
    )


def test_one_source_is_used_as_it_is(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")
    found = retrieve(ctx, query, 5, RerankWeights())
    assert found.bm25 == found.by_source["bm25"] == engine.store.snapshot().search(query.terms, 20)
    assert {h for h, _ in found.hits} <= {h for h, _ in found.bm25}


def test_several_sources_need_a_join(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")
    uids = engine.store.snapshot().uids().tolist()
    with pytest.raises(ValueError, match="join"):
        retrieve(ctx, query, 5, RerankWeights(), (Lexical(), Fixed(((uids[-1], 1.0),))))


def test_a_source_that_does_not_take_part_leaves_the_words_path_alone(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")

    @dataclass(frozen=True)
    class Silent:
        name: str = "silent"

        def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits | None:
            return None

    alone = retrieve(ctx, query, 5, RerankWeights())
    found = retrieve(ctx, query, 5, RerankWeights(), (Lexical(), Silent()))
    assert (found.hits, found.bm25, found.fusion) == (alone.hits, alone.bm25, None) and set(found.by_source) == {"bm25"}
    assert found.coverage.keys() == alone.coverage.keys()


def test_every_list_reaches_the_one_join_and_its_passages_get_coverage(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")
    uids = engine.store.snapshot().uids().tolist()
    other = Fixed(tuple((u, 1.0) for u in reversed(uids)))
    seen: dict[str, Hits] = {}

    def other_first(
        ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Joined:
        seen.update(lists)
        return Joined(lists["fixed"][:3], fusion="mine")

    found = retrieve(ctx, query, 3, RerankWeights(), (Lexical(), other), other_first)
    alone = retrieve(ctx, query, 3, RerankWeights())
    assert set(found.by_source) == {"bm25", "fixed"} and found.bm25 == found.by_source["bm25"] == alone.bm25
    assert seen["bm25"] == alone.hits  # the join reads the words list re-ranked, the others as they came
    assert seen["fixed"] == list(other.hits[:20]) and found.fusion == "mine"
    assert found.hits == list(other.hits[:3])
    assert set(found.coverage) == {h for h, _ in alone.bm25} | {h for h, _ in other.hits[:3]}
