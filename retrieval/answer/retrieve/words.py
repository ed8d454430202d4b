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

from retrieval.answer.context import QuestionContext
from retrieval.answer.retrieve.story import StoryEvidence


@dataclass(frozen=True, slots=True)
class WordCoverage:
    """Per candidate uid: the share of the question's word keys its passage holds, and its story."""

    passage: Mapping[int, float]
    story: Mapping[int, float]


NO_COVERAGE = WordCoverage({}, {})


def word_coverage(
    ctx: QuestionContext, uids: Sequence[int], other: Mapping[int, bool], stories: StoryEvidence
) -> WordCoverage:
    """The translated coverage of the other-language candidates among `uids` (the others: 0)
    whose story has several passages: those `stories` (`story.py`) holds, with their story's
    share already read from its keys."""
    if ctx.asked is None:
        return NO_COVERAGE
    qa = ctx.question_anchors
    reader = getattr(ctx.searcher, "passage_anchors", None)
    if not qa.words or reader is None:
        return NO_COVERAGE
    wanted = [u for u in uids if other.get(u, False) and u in stories.gap]
    if not wanted:
        return NO_COVERAGE
    passage = {u: qa.word_share_in({k for k, _ in reader(u)}) for u in wanted}
    return WordCoverage(passage, {u: stories.translated[u] for u in wanted})
