"""The answer path's candidate sources, in the order the join reads them (words first).

A new source is a file in this folder and one entry here; `gather` asks each, and the join
(`fusion.py`) reads any list beyond the words and the vectors as candidates of its own.
"""

from __future__ import annotations

from retrieval.answer.retrieve import CandidateSource
from retrieval.answer.retrieve.anchors import AnchorSource
from retrieval.answer.retrieve.dense import Dense
from retrieval.answer.retrieve.fusion import FusionWeights
from retrieval.answer.retrieve.lexical import Lexical


def candidate_sources(fusion: FusionWeights) -> tuple[CandidateSource, ...]:
    return (
        Lexical(),  # BM25 over the index's terms; its list is the one the re-rank reads
        Dense(fusion.dense_depth),  # the passages nearest the question's vector (semantic questions only)
        AnchorSource(fusion.anchor_depth),  # passages holding the question's names and numbers, either script
    )
