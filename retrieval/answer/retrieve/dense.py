"""The dense candidate source: the passages whose vectors are nearest the question's
(`Searcher.dense`: HNSW on big segments, exact on small ones, `retrieval/index/ann.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.retrieve import Hits

DENSE = "dense"


@dataclass(frozen=True, slots=True)
class Dense:
    """Takes part only when the question has a vector (an encoder, and an index holding vectors
    of that very encoder); otherwise the answer path is the words-only one exactly."""

    depth: int  # candidates asked for (`FusionWeights.dense_depth`: the fusion reads this many)
    name: str = DENSE

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits | None:
        qv = ctx.question_vector
        if qv is None:
            return None
        return [(int(u), float(c)) for u, c in ctx.searcher.dense(qv, self.depth)]
