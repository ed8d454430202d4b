"""Translated coverage: how much of a question's plain wording an other-language passage holds.

BM25 sees a question's words only in its own script, so a Korean question about a story told
in English gives the English passages no lexical evidence at all, and a Korean passage of a
neighbouring story that shares two of its words outranks the one that answers it (the most common
cross-language miss on the news dev set). The word list (`retrieval/text/anchors/lexicon.tsv`)
maps everyday news words of both languages to one key (곰 / bear, 유권자 / voters, 거부하다 /
refused), stored with the anchors: the question's word keys, weighted by their idf in the index
(`QuestionAnchors.words`), are looked up in each candidate's keys and its story's keys.

Only the candidates' own stored keys are read (no postings, no text), and the features are for
other-language candidates of stories of several passages: a same-language one already has its
words counted by BM25, and an article of one passage (Belebele's, a one-paragraph note) gets none,
as with the story features (`story.py`): fitted on news stories, the features cost Belebele's
one-passage articles up to 5 points of src@1 (en questions, Korean passages) where the encoder
alone does well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer.context import QuestionContext


@dataclass(frozen=True, slots=True)
class WordCoverage:
    """Per candidate uid: the share of the question's word keys its passage holds, and its story."""

    passage: Mapping[int, float]
    story: Mapping[int, float]


NO_COVERAGE = WordCoverage({}, {})


def word_coverage(ctx: QuestionContext, uids: Sequence[int], other: Mapping[int, bool]) -> WordCoverage:
    """The translated coverage of the other-language candidates among `uids` (the others: 0)."""
    if ctx.asked is None:
        return NO_COVERAGE
    qa = ctx.question_anchors
    searcher = ctx.searcher
    reader = getattr(searcher, "passage_anchors", None)
    if not qa.words or reader is None:
        return NO_COVERAGE
    size = getattr(searcher, "story_size", None)
    if size is None:
        return NO_COVERAGE
    wanted = [u for u in uids if other.get(u, False) and size(u) >= 2]
    if not wanted:
        return NO_COVERAGE
    passage = {u: qa.word_share_in({k for k, _ in reader(u)}) for u in wanted}
    story: dict[int, float] = {}
    stories_of = getattr(searcher, "stories_of", None)
    story_keys = getattr(searcher, "story_anchors", None)
    if stories_of is not None and story_keys is not None:
        seen: dict[int, float] = {}
        for u, s in zip(wanted, stories_of(np.asarray(wanted, np.int64)).tolist(), strict=True):
            if s < 0:
                story[u] = passage[u]
                continue
            if s not in seen:
                seen[s] = qa.word_share_in(story_keys(u))
            story[u] = seen[s]
    return WordCoverage(passage, story)
