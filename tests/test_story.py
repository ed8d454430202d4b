"""Story evidence (retrieval/answer/retrieve/story.py): every passage of a story gets the story's
share of the question's anchors and its best cosine, in a small real store with the real Kiwi
and the real encoder."""

from __future__ import annotations

from pathlib import Path

from conftest import StoreQuestion, normalize, store_question

from retrieval import Analyzer, Article
from retrieval.answer.retrieve import fusion
from retrieval.answer.retrieve.story import NO_STORIES, story_evidence

# A Korean story of two paragraphs: the first names Peskov, the second (the answer to "what did
# he say") does not. Two English stories about sanctions name nobody the question names.
KOREAN = (
    "페스코프 크렘린궁 대변인은 목요일 모스크바에서 기자들을 만났다.",
    "그는 새로운 제재가 양국 관계를 해칠 것이라고 말했다.",
)
ENGLISH = {
    "ministers": ("European ministers discussed new sanctions at a meeting in Brussels.",),
    "weather": ("Heavy snow closed schools across the region on Tuesday.",),
}
QUESTION = "What did Peskov say the new sanctions would do?"


def _context(tmp_path: Path, analyzer: Analyzer, encoder: object) -> StoreQuestion:
    articles = [Article("kremlin", "-", KOREAN), *(Article(k, "-", t) for k, t in ENGLISH.items())]
    return store_question(tmp_path, analyzer, encoder, articles, QUESTION)


def test_each_passage_of_a_story_carries_the_story_anchor_share_and_best_cosine(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    snap, ctx, query, by_article, _ = _context(tmp_path, analyzer, encoder)
    uids = snap.uids().tolist()
    assert len(by_article["kremlin"]) == 2
    cosine = ctx.passage_cosines(uids)
    ev = story_evidence(ctx, query, uids, cosine, {})
    first, second = by_article["kremlin"]
    # the second paragraph names nobody, yet its story holds Peskov: both get the story's share
    assert ev.anchors[first] == ev.anchors[second] > 0
    # a story of one passage gets no story evidence: its own features say it all
    assert all(u not in ev.anchors and u not in ev.gap for a in ENGLISH for u in by_article[a])
    # the gap is the story's best cosine against the best of all: one story has 0, none above
    best_story = max(cosine[first], cosine[second])
    assert ev.gap[first] == ev.gap[second] == best_story - max(cosine.values())
    assert ev.gap[first] <= 0.0


def test_an_other_language_story_leads_only_by_what_no_own_language_story_holds(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    snap, ctx, query, _, _ = _context(tmp_path, analyzer, encoder)
    uids = snap.uids().tolist()
    cosine = ctx.passage_cosines(uids)
    other = {u: snap.passage(u).language == "ko" for u in uids}
    ev = story_evidence(ctx, query, uids, cosine, {})
    dense = sorted(cosine.items(), key=lambda x: -x[1])
    cand, X = fusion.candidate_features([], {}, dense, cosine, other, (), None, ev)
    _, bare = fusion.candidate_features([], {}, dense, cosine, other, (), None, NO_STORIES)
    lead = fusion.FEATURES.index("s_lead*other")
    for i, u in enumerate(cand):  # no English story names Peskov: the Korean one leads by its whole share
        assert X[i, lead] == ev.anchors.get(u, 0.0) * other[u]
        assert bare[i, lead] == 0.0
    assert max(X[:, lead]) > 0
    # a store without story numbers (the in-memory one) gives no evidence rather than failing
    assert story_evidence(ctx, query, [], cosine, {}) == NO_STORIES


def test_a_story_told_in_both_languages_keeps_the_question_in_its_own(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    """Twin articles: the English one names Peskov too, so the Korean twin leads by nothing."""
    english = (
        "Kremlin spokesman Peskov met reporters in Moscow on Thursday.",
        "He said the new sanctions would damage relations between the two countries.",
    )
    articles = [Article("kremlin-ko", "-", KOREAN), Article("kremlin-en", "-", english)]
    snap, ctx, query, _, path = store_question(tmp_path, analyzer, encoder, articles, QUESTION)
    uids = snap.uids().tolist()
    cosine = ctx.passage_cosines(uids)
    other = {u: snap.passage(u).language == "ko" for u in uids}
    ev = story_evidence(ctx, query, uids, cosine, {})
    assert all(ev.anchors[u] > 0 for u in uids)  # both stories hold the name
    _, X = fusion.candidate_features([], {}, sorted(cosine.items(), key=lambda x: -x[1]), cosine, other, (), None, ev)
    assert not X[:, fusion.FEATURES.index("s_lead*other")].any()
    answer = path.ask(snap, QUESTION)
    assert answer.quotes and answer.quotes[0].source.article == "kremlin-en"
    assert normalize(answer.quotes[0].text) in {normalize(x) for x in english}
