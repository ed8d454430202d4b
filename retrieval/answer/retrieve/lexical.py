"""The lexical candidate source: BM25 over the index's terms (the index computes the scores)."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.retrieve import Hits

LEXICAL = "bm25"


@dataclass(frozen=True, slots=True)
class Lexical:
    name: str = LEXICAL

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits:
        return ctx.searcher.search(query.terms, k=k)
