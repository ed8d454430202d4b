"""Candidate sources and the fusion point (retrieval/answer/retrieve/), through the real re-rank."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from retrieval import Engine
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query, QueryWeights, build_query, unknown_idf
from retrieval.answer.rerank import RerankWeights, retrieve
from retrieval.answer.retrieve import Hits
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


def test_several_sources_need_a_fusion_function(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")
    uids = engine.store.snapshot().uids().tolist()
    with pytest.raises(ValueError, match="fusion"):
        retrieve(ctx, query, 5, RerankWeights(), (Lexical(), Fixed(((uids[-1], 1.0),))))


def test_fused_candidates_reach_the_re_rank(engine: Engine) -> None:
    ctx, query = _setup(engine, "What did the Kremlin say?")
    uids = engine.store.snapshot().uids().tolist()
    other = Fixed(tuple((u, 1.0) for u in reversed(uids)))

    def dense_first(lists: Mapping[str, Hits], k: int) -> Hits:
        return lists["fixed"][:k]

    found = retrieve(ctx, query, 3, RerankWeights(), (Lexical(), other), dense_first)
    assert set(found.by_source) == {"bm25", "fixed"} and found.bm25 == found.by_source["bm25"]
    assert {h for h, _ in found.hits} <= set(uids) and set(found.coverage) == {h for h, _ in other.hits[:20]}
