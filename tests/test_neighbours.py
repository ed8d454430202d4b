"""The first passage's story neighbours (retrieval/answer/neighbours.py), in a small real store
with the real Kiwi: which passages are added, and at what share."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import store_question

from retrieval import Analyzer, Article
from retrieval.answer.neighbours import NeighbourWeights, with_neighbours
from retrieval.answer.rerank import Retrieved

# A story whose lead names everything the question names, and whose answer (the count of years)
# is two paragraphs below it, naming only Hun Sen.
STORY = (
    "Cambodian Prime Minister Hun Sen's ruling party won Sunday's general election in Cambodia.",
    "Opposition parties said the vote was marred by irregularities.",
    "Hun Sen, a former Khmer Rouge soldier, has held power for 23 years.",
    "Election monitors from the European Union will report next week.",
    "Turnout was lower than at the last vote.",
    "Markets in Phnom Penh were calm on Monday.",
)
OTHER = ("Heavy snow closed schools across the region on Tuesday.",)
QUESTION = "How many years has Hun Sen ruled Cambodia?"


def test_the_first_passages_neighbours_are_read_at_a_share_of_its_own(tmp_path: Path, analyzer: Analyzer) -> None:
    articles = [Article("cambodia", "-", STORY), Article("snow", "-", OTHER)]
    snap, ctx, query, by_article, _ = store_question(tmp_path, analyzer, None, articles, QUESTION, encoder="none")
    story = by_article["cambodia"]
    assert snap.story_uids(story[2]) == story  # the whole article, in text order
    found = Retrieved(hits=[(story[2], 3.0)], coverage={}, bm25=[], by_source={})
    out = with_neighbours(ctx, found, query, NeighbourWeights(neighbour_radius=2, neighbour_share=0.5))
    # two before and two after the first, never the one three away, each at half the first's share
    assert out.hits == [(story[2], 3.0), *((u, 1.5) for u in (story[0], story[1], story[3], story[4]))]
    assert all(u in out.coverage for u, _ in out.hits[1:])  # later stages read every quoted passage's coverage
    # at the start of its article only the passages after it; none at radius 0; none for a one-passage article
    start = with_neighbours(ctx, dataclasses.replace(found, hits=[(story[0], 1.0)]), query, NeighbourWeights(1))
    assert [u for u, _ in start.hits] == [story[0], story[1]]
    assert with_neighbours(ctx, found, query, NeighbourWeights(neighbour_radius=0)).hits == found.hits
    alone = dataclasses.replace(found, hits=[(by_article["snow"][0], 1.0)])
    assert with_neighbours(ctx, alone, query, NeighbourWeights()).hits == alone.hits
    # a passage already among the hits keeps its own share
    kept = dataclasses.replace(found, hits=[(story[2], 3.0), (story[1], 2.9)])
    assert with_neighbours(ctx, kept, query, NeighbourWeights(neighbour_radius=1)).hits == [
        (story[2], 3.0),
        (story[1], 2.9),
        (story[3], 1.5),
    ]
