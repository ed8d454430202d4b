"""Stage 3b of the answer path: the first passage's neighbours in its story are read too.

A news answer is often the paragraph next to the one that names what the question names: "How
many years has Hun Sen ruled?" finds the lead ("Hun Sen's party won the election") by its words,
and the answer ("he has held power for 23 years") a line below. The fusion keeps only passages
whose chance is near the first's, and its softmax is peaked, so the neighbour is often not among
the passages the sentence scorer reads at all; then no sentence weight can choose it.

So the passages within `neighbour_radius` of the first passage in its article are added, each with
`neighbour_share` of the first passage's share: the sentence scorer's features (the words it holds, the
count, date or speaker the question's kind asks for, its meaning) decide between them, while a
neighbour never outranks the first passage by its passage score alone. Only an index that knows
its stories (the segmented one: `Snapshot.story_uids`) has neighbours; a one-passage article has
none. Chosen on the news dev set's FIT half and checked on REPORT (docs/quality.md, round
fourteen).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.rerank import Retrieved, coverage_of


@dataclass(frozen=True, slots=True)
class NeighbourWeights:
    neighbour_radius: int = 2  # passages before and after the first passage (0: none added)
    neighbour_share: float = 0.5  # a neighbour's passage share, relative to the first passage's


def with_neighbours(ctx: QuestionContext, found: Retrieved, query: Query, weights: NeighbourWeights) -> Retrieved:
    """`found` with the first passage's story neighbours appended to its hits (their coverage
    added to `found.coverage`, which later stages read for every quoted passage)."""
    story_uids = getattr(ctx.searcher, "story_uids", None)
    if weights.neighbour_radius <= 0 or not found.hits or story_uids is None:
        return found
    first, top = found.hits[0]
    story: list[int] = story_uids(first)
    at = story.index(first)
    have = {u for u, _ in found.hits}
    near = [u for u in story[max(0, at - weights.neighbour_radius) : at + weights.neighbour_radius + 1] if u not in have]
    if not near:
        return found
    found.coverage.update(coverage_of([u for u in near if u not in found.coverage], query, ctx))
    return dataclasses.replace(found, hits=[*found.hits, *((u, weights.neighbour_share * top) for u in near)])
