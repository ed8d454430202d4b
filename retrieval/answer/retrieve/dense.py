"""Dense candidates: the passages whose vectors are nearest the question's.

A pure function over arrays: the question's unit vector, the passages' int8 codes (see
`retrieval/index/vectors.py`) with their norms and live mask, and the row → passage uid map of
the segment(s). Several segments are searched one by one and merged (each keeps its own k best).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.index.vectors import top_k

DENSE = "dense"

DENSE_DEPTH = 20  # dense candidates per question (R@10 of the encoder alone is 0.83 ko→en; 20 keeps the 0.9 tail)


@dataclass(frozen=True, slots=True)
class VectorColumn:
    """One segment's vectors as the search reads them."""

    codes: npt.NDArray[np.int8]  # rows × dim
    norms: npt.NDArray[np.float32]  # each row's length (`vectors.row_norms`)
    uids: npt.NDArray[np.int64]  # row → passage uid
    live: npt.NDArray[np.bool_] | None = None  # False: tombstoned


def dense_candidates(
    question: npt.NDArray[np.float32], columns: Sequence[VectorColumn], k: int = DENSE_DEPTH
) -> list[tuple[int, float]]:
    """(passage uid, cosine), best first, at most k, over every column."""
    found: list[tuple[int, float]] = []
    for col in columns:
        rows, sims = top_k(col.codes, col.norms, question, k, col.live)
        found.extend(zip(col.uids[rows].tolist(), sims.tolist()))
    found.sort(key=lambda x: -x[1])
    return found[:k]


@dataclass(frozen=True, slots=True)
class Dense:
    """The dense candidate source: the passages whose vectors are nearest the question's
    (`Searcher.dense`); none when the question has no vector (no encoder, or an index without
    vectors of the engine's encoder)."""

    name: str = DENSE

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> list[tuple[int, float]]:
        qv = ctx.question_vector
        if qv is None:
            return []
        return [(int(u), float(c)) for u, c in ctx.searcher.dense(qv, k)]  # type: ignore[attr-defined]
