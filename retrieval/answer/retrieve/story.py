"""Story evidence: what a candidate passage's whole article (its story) says about the question.

A news question is about one story, and the sentence that answers it rarely holds everything the
question names: "Why were the Kurds holding a rally in Kirkuk?" is answered by a sentence about
the rally's cause, while Kirkuk is named two lines up. Across languages this matters most: the
right story is written in the other script, so the words cannot see it, and the answering
sentence's own cosine is often below a same-language passage of another story about the same
kind of event. Read as a story, though, it holds the question's names, numbers and terms
(anchors, in either script) and the passage nearest in meaning.

Per candidate story (the stories of the candidates the sources proposed; nothing else is read):

* `anchors`: the weighted share of the question's anchors, every kind, that the story holds
  (the story's keys come from the index's `anchors` column, per article, without passage text);
* `gap`: the story's best candidate cosine minus the best candidate cosine of all (≤ 0);
* `words`: the share of the question's idf mass the story's candidate passages hold together
  (the re-rank's coverage; a same-language story can hold the question's words where anchor
  extraction missed a name: Kiwi reads 이즈미르 in one sentence and not in another).

`fusion.py` turns them into four features of every candidate of the story: `s_held` (the
anchor share; for a story in the question's own language the larger of it and the word share),
`s_lead*other` (how much more of the question's anchors an other-language story holds than any
same-language candidate's story holds, so that a story told in both languages, as twin articles
or one bilingual article, never pulls a question away from its own language), `s_gap` and
`s_gap*other`. A story of one passage gets none: its passage's own features already say all it
holds, and the weights were fitted on news stories of several paragraphs (Belebele, one passage
an article, lost up to 5 points of src@1 when its passages got them too). The word share as a
feature of its own was tried and not kept: it added nothing on either half (docs/quality.md,
round twelve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query

if TYPE_CHECKING:  # the join reads the re-rank's coverage; rerank.py imports this package
    from retrieval.answer.rerank import Coverage


@dataclass(frozen=True, slots=True)
class StoryEvidence:
    """Per candidate uid of a story of several passages: its story's anchor share, cosine gap and
    word share (a uid left out reads as 0)."""

    anchors: Mapping[int, float]
    gap: Mapping[int, float]
    words: Mapping[int, float]  # the share of the question's idf mass its story's candidates hold together
    # the share of the question's everyday words its story holds, in either script (`words.py`),
    # read from the same story keys as `anchors`
    translated: Mapping[int, float] = field(default_factory=dict)


NO_STORIES = StoryEvidence({}, {}, {})


def story_evidence(
    ctx: QuestionContext, query: Query, uids: Sequence[int], cosine: Mapping[int, float],
    coverage: Mapping[int, Coverage],
) -> StoryEvidence:  # fmt: skip
    """The story features of `uids` (candidates), grouped by the snapshot's story numbers (an
    index without them, the in-memory one, gives none)."""
    stories_of = getattr(ctx.searcher, "stories_of", None)
    if not uids or stories_of is None:
        return NO_STORIES
    members: dict[int, list[int]] = {}
    for u, s in zip(uids, stories_of(np.asarray(uids, np.int64)).tolist(), strict=True):
        members.setdefault(s, []).append(u)
    best = max(cosine.get(u, 0.0) for u in uids)
    qa = ctx.question_anchors if ctx.asked is not None else None
    anchors: dict[int, float] = {}
    gap: dict[int, float] = {}
    words: dict[int, float] = {}
    translated: dict[int, float] = {}
    qw = query.weights_arr
    size = getattr(ctx.searcher, "story_size", None)
    for s, us in members.items():
        if s < 0 or size is None or size(us[0]) < 2:
            continue  # one passage: nothing beyond the passage's own features (module docstring)
        g = max(cosine.get(u, 0.0) for u in us) - best
        keys = ctx.searcher.story_anchors(us[0]) if qa is not None and (qa.keys or qa.words) else frozenset()  # type: ignore[attr-defined]
        a = qa.share_in(keys) if qa is not None and qa.keys else 0.0
        t = qa.word_share_in(keys) if qa is not None and qa.words else 0.0
        held = [coverage[u].present.any(axis=0) for u in us if u in coverage and coverage[u].present.size]
        w = float(np.logical_or.reduce(held) @ qw) if held and len(qw) else 0.0
        for u in us:
            anchors[u], gap[u], words[u], translated[u] = a, g, w, t
    return StoryEvidence(anchors, gap, words, translated)
