"""Where candidate passages come from: candidate sources of one protocol, joined at one point.

Every source (`lexical.py`: BM25; `dense.py`: the passage vectors) proposes passages for a query
in the same shape, `Hits`: (uid, score) best first, or None when it has nothing to say about this
question (the dense source without a question vector). `sources.py` lists the answer path's
sources; `gather` asks each of them once; `answer/rerank.py::retrieve` re-ranks the first (words)
list and hands every list to one `Join` (`fusion.py::LearnedFusion`, the model being Haystack 2's
retrievers of one protocol and its `DocumentJoiner`). A new source is one file here and one entry
in `sources.py`; the join reads any further list as candidates of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query

if TYPE_CHECKING:  # the join reads the re-rank's coverage; rerank.py imports this module
    from retrieval.answer.rerank import Coverage

Hits = list[tuple[int, float]]  # (passage uid, score), best first


class CandidateSource(Protocol):
    """Proposes passages for a query, best first, with its own scores; None when it does not
    take part in this question. `k` is how many the re-rank reads; a source with a depth of
    its own (the dense one: `FusionWeights.dense_depth`) keeps to that instead."""

    name: str

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits | None: ...


@dataclass(frozen=True, slots=True)
class Joined:
    hits: Hits  # the joined list, best first: the passages the sentences are read from
    fusion: Any = None  # what the join saw and decided (`fusion.Fused`), for the later stages


class Join(Protocol):
    """Several sources' lists into one. `lists` holds every source that took part, the first
    (words) one already re-ranked; `coverage` is the re-rank's coverage of that first list."""

    def __call__(
        self, ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Joined: ...


def gather(ctx: QuestionContext, query: Query, k: int, sources: Sequence[CandidateSource]) -> dict[str, Hits]:
    """Each source's own list, by its name, in the sources' order (those that take part)."""
    found: dict[str, Hits] = {}
    for s in sources:
        hits = s.candidates(ctx, query, k)
        if hits is not None:
            found[s.name] = hits
    return found
