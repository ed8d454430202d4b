"""Translated coverage (retrieval/answer/retrieve/words.py): an other-language passage of a story
of several passages gets the share of the question's everyday words it and its story hold, in a
small real store with the real Kiwi and the real encoder."""

from __future__ import annotations

from pathlib import Path

from conftest import StoreQuestion, store_question

from retrieval import Analyzer, Article
from retrieval.answer.retrieve import fusion
from retrieval.answer.retrieve.story import story_evidence
from retrieval.answer.retrieve.words import NO_COVERAGE, WordCoverage, word_coverage

# An English story of two paragraphs (the first answers the question), an English note of one
# paragraph holding the same words, and a Korean story that shares only the bears.
MINE = (
    "Hundreds of mine workers refused to return to work for fear of the bears.",
    "The company said it would hire hunters this week.",
)
NOTE = ("Mine workers refused to return, fearing bears.",)
KOREAN = (
    "동물원의 곰 두 마리가 새 우리로 옮겨졌다.",
    "관람객들은 주말에 곰을 볼 수 있다.",
)
QUESTION = "광산 노동자들은 왜 복귀를 거부했나?"


def _context(tmp_path: Path, analyzer: Analyzer, encoder: object) -> StoreQuestion:
    articles = [Article("mine", "-", MINE), Article("note", "-", NOTE), Article("zoo", "-", KOREAN)]
    return store_question(tmp_path, analyzer, encoder, articles, QUESTION)


def _coverage(ctx, query, uids: list[int], other: dict[int, bool]) -> WordCoverage:  # type: ignore[no-untyped-def]
    stories = story_evidence(ctx, query, uids, ctx.passage_cosines(uids), {})
    return word_coverage(ctx, uids, other, stories)


def test_the_other_language_story_holds_the_question_words(tmp_path: Path, analyzer: Analyzer, encoder: object) -> None:
    snap, ctx, query, by_article, _ = _context(tmp_path, analyzer, encoder)
    assert {"word:mine", "word:worker", "word:refuse", "word:return"} <= set(ctx.question_anchors.words)
    uids = [u for us in by_article.values() for u in us]
    other = {u: snap.passage(u).language != "ko" for u in uids}
    cov = _coverage(ctx, query, uids, other)
    first, second = by_article["mine"]
    assert cov.passage[first] == 1.0  # every word the question has is in the answering paragraph
    assert cov.passage[second] == 0.0  # ...and none in the next one
    assert cov.story[first] == cov.story[second] == 1.0  # the story holds them all
    # a one-paragraph article gets nothing (the features were fitted on news stories), and a
    # passage in the question's own language neither: BM25 counts its words
    assert not {*by_article["note"], *by_article["zoo"]} & {*cov.passage, *cov.story}


def test_the_lead_counts_only_what_no_own_language_passage_covers(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    snap, ctx, query, by_article, _ = _context(tmp_path, analyzer, encoder)
    uids = [u for us in by_article.values() for u in us]
    other = {u: snap.passage(u).language != "ko" for u in uids}
    cov = _coverage(ctx, query, uids, other)
    cosine = ctx.passage_cosines(uids)
    dense = sorted(cosine.items(), key=lambda x: -x[1])
    first = by_article["mine"][0]
    lead = fusion.FEATURES.index("w_lead*other")
    zoo = by_article["zoo"][0]
    for same_cov, expected in ((0.0, 1.0), (0.4, 0.6), (1.0, 0.0)):
        cand, X = fusion.candidate_features([(zoo, 1.0)], {zoo: same_cov}, dense, cosine, other, words=cov)
        assert abs(X[cand.index(first), lead] - expected) < 1e-9
    cand, X = fusion.candidate_features([(zoo, 1.0)], {zoo: 0.0}, dense, cosine, other, words=NO_COVERAGE)
    assert not X[:, lead].any()
