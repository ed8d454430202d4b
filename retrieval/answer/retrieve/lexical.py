"""The lexical candidate source: BM25 over the index's terms (the index computes the scores)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.retrieve import Hits

LEXICAL = "bm25"


@dataclass(frozen=True, slots=True)
class Lexical:
    name: str = LEXICAL

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits:
        return ctx.searcher.search(query.terms, k=k)


@dataclass(frozen=True, slots=True)
class LexicalWithin:
    """BM25 over some passages only: the story a follow-up points back to (issue 20)."""

    passages: npt.NDArray[np.int64]
    name: str = LEXICAL

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits:
        uids, scores = ctx.searcher.scores(query.terms)
        keep = np.isin(uids, self.passages) & (scores > 0)
        order = np.argsort(-scores[keep], kind="stable")[:k]
        return [(int(u), float(s)) for u, s in zip(uids[keep][order], scores[keep][order], strict=True)]
