"""The anchors candidate source: passages that hold the question's names, numbers and terms,
in either script (`anchor_match.py` matches them against the index's `anchors` column).

Most cross-language misses on the news dev set quoted another story entirely: the question
names a person or place that the right story writes in the other script, which BM25 cannot see
and the encoder blurs. A passage holding the question's anchors is proposed here with the
weighted share of them it holds; the fusion scores it with every other candidate, its `anc`
feature being that share (`fusion.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.answer.anchor_match import KIND_WEIGHTS
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.retrieve import Hits
from retrieval.text.anchors import kind_of

ANCHORS = "anchors"


@dataclass(frozen=True, slots=True)
class AnchorSource:
    """Takes part when the question has a vector (the semantic path: the join it feeds is the
    learned fusion) and an anchor some passage holds. Only keys that pin a story
    propose passages (names, numbers: `proposing` weight or more); a passage sharing only a
    glossary term or a year with the question is left to the other sources."""

    depth: int  # candidates proposed at most (`FusionWeights.anchor_depth`)
    proposing: float = 1.0  # the least kind weight (`KIND_WEIGHTS`) of a key that proposes passages
    name: str = ANCHORS

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits | None:
        if ctx.question_vector is None:
            return None  # the words-only path stays today's: the fusion is fitted for the semantic one
        qa = ctx.question_anchors
        if not any(KIND_WEIGHTS[kind_of(key)] >= self.proposing for key in qa.passages):
            return None
        strong = np.concatenate([
            np.asarray(uids, np.int64) for key, uids in qa.passages.items() if KIND_WEIGHTS[kind_of(key)] >= self.proposing
        ])  # fmt: skip
        uids, shares = qa.share_arrays()
        keep = np.isin(uids, strong)
        uids, shares = uids[keep], shares[keep]
        order = np.lexsort((uids, -shares))[: self.depth]  # best share first, ties to the lower uid
        return list(zip(uids[order].tolist(), shares[order].tolist(), strict=True))
