"""Where candidate passages come from: one or more candidate sources, then one fused list.

A source proposes the passages it thinks best for a query (`lexical.py`: BM25). The re-rank
(`answer/rerank.py`) reads the gathered list. With one source its list is used as it is; a
second source (dense vectors, say) is one more file here plus a fusion function that merges
the lists, and the re-rank reads their scores by source name (`Gathered.by_source`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query

Hits = list[tuple[int, float]]  # (passage uid, score), best first
Fuse = Callable[[Mapping[str, Hits], int], Hits]  # every source's list -> one list of at most k


class CandidateSource(Protocol):
    """Proposes passages for a query, best first, with its own scores."""

    name: str

    def candidates(self, ctx: QuestionContext, query: Query, k: int) -> Hits: ...


@dataclass(frozen=True, slots=True)
class Gathered:
    hits: Hits  # the fused list (or the one source's own), best first
    by_source: Mapping[str, Hits]  # each source's own list, by its name


def gather(
    ctx: QuestionContext, query: Query, k: int, sources: Sequence[CandidateSource], fuse: Fuse | None = None
) -> Gathered:
    """Each source's `k` best, fused into one list (one source: its list as it is)."""
    found = {s.name: s.candidates(ctx, query, k) for s in sources}
    if len(found) == 1:
        return Gathered(next(iter(found.values())), found)
    if fuse is None:
        raise ValueError(
            f"{len(found)} candidate sources ({', '.join(found)}) need a fusion function to merge their lists"
        )
    return Gathered(fuse(found, k), found)
