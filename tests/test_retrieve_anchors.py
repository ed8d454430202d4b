"""The anchors candidate source (retrieval/answer/retrieve/anchors.py) and the anchor signals of
the verdict: an English question finds a Korean passage by a name written in Hangul, in a small
real store, with the real Kiwi and the real encoder."""

from __future__ import annotations

from pathlib import Path

from conftest import normalize

from retrieval import Analyzer, Article, EngineConfig
from retrieval.answer.retrieve.anchors import ANCHORS, AnchorSource
from retrieval.path import Parts

# Three Korean statements by three Russian officials, alike in words and meaning: only the name
# tells them apart, and the English question writes it in Latin letters.
KOREAN = {
    "lavrov": "라브로프 외무장관은 새로운 제재가 국제법 위반이라고 기자들에게 말했다.",
    "peskov": "페스코프 대변인은 새로운 제재가 양국 관계를 해친다고 기자들에게 말했다.",
    "zakharova": "자하로바 대변인은 새로운 제재가 아무 효과도 없을 것이라고 기자들에게 말했다.",
}
ENGLISH = {
    "weather": "Heavy snow closed schools across the region on Tuesday.",
    "sanctions": "European ministers discussed new sanctions at a meeting in Brussels.",
}


def _path(tmp_path: Path, analyzer: Analyzer, encoder: object):  # type: ignore[no-untyped-def]
    parts = Parts(EngineConfig(tmp_path / "corpus", tmp_path / "data"), analyzer, encoder)  # type: ignore[arg-type]
    store = parts.store(tmp_path / "index")
    store.add([Article(k, "-", (t,)) for k, t in {**KOREAN, **ENGLISH}.items()])
    return parts.path(), store.snapshot()


def test_an_english_question_finds_the_korean_passage_by_its_hangul_name(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    path, snap = _path(tmp_path, analyzer, encoder)
    answerer = path.answerer(snap)
    for name, article in (("Lavrov", "lavrov"), ("Peskov", "peskov")):
        question = f"What did {name} say about the sanctions?"
        from retrieval.answer.question import read_question

        ctx = answerer.context(read_question(question, analyzer.morphemes), analyzer.question_words(question))
        hits = AnchorSource(depth=5).candidates(ctx, answerer.query(ctx.words), 10)
        assert hits is not None and snap.passage(hits[0][0]).article.id == article
        answer = path.ask(snap, question)
        assert answer.quotes, question
        first = answer.quotes[0]
        assert first.source.article == article, (question, first.text)
        assert normalize(first.text) in normalize(KOREAN[article])  # quoted verbatim
        assert answer.signals["anchor_quote_share"] == 1.0 and answer.signals["anchor_story_share"] == 1.0


def test_a_question_without_names_or_numbers_leaves_the_source_out(
    tmp_path: Path, analyzer: Analyzer, encoder: object
) -> None:
    path, snap = _path(tmp_path, analyzer, encoder)
    answer = path.ask(snap, "what happened to the schools?")
    assert answer.signals["anchors_in_question"] == 1.0 and answer.signals["anchor_names"] == 0.0  # a glossary term
    answerer = path.answerer(snap)
    from retrieval.answer.question import read_question

    q = "what happened to the schools?"
    ctx = answerer.context(read_question(q, analyzer.morphemes), analyzer.question_words(q))
    assert AnchorSource(depth=5).candidates(ctx, answerer.query(ctx.words), 10) is None
    assert ANCHORS == AnchorSource(depth=5).name


def test_the_words_only_path_has_no_anchor_candidates(tmp_path: Path, analyzer: Analyzer) -> None:
    path, snap = _path(tmp_path, analyzer, None)
    answerer = path.answerer(snap)
    from retrieval.answer.question import read_question

    q = "What did Lavrov say about the sanctions?"
    ctx = answerer.context(read_question(q, analyzer.morphemes), analyzer.question_words(q))
    assert ctx.question_anchors.found("name:lplp")  # the anchors are read...
    assert AnchorSource(depth=5).candidates(ctx, answerer.query(ctx.words), 10) is None  # ...but not fused


def test_shares_and_story_shares_are_those_of_a_plain_loop() -> None:
    """`passage_shares` and `best_story_share` in numpy (a large index's common key is held by
    tens of thousands of passages) give what a loop over keys and passages gives, to the last bit
    of every float: the shares are summed key by key in the question's order."""
    import numpy as np

    from retrieval.answer.anchor_match import KIND_WEIGHTS, QuestionAnchors, STRONG_KINDS
    from retrieval.text.anchors import kind_of

    rng = np.random.default_rng(11)
    keys = ("name:ab", "num:3:ppl", "term:kremlin", "name:cd", "year:2001", "name:ef")
    passages = {k: np.unique(rng.integers(0, 300, int(rng.integers(1, 120)))) for k in keys if k != "name:ef"}
    qa = QuestionAnchors(keys, {k: (k,) for k in keys}, passages, exact={"name:ab": passages["name:ab"]})
    for kinds in (None, STRONG_KINDS):
        chosen = [k for k in keys if kinds is None or kind_of(k) in kinds]
        total = sum(KIND_WEIGHTS[kind_of(k)] for k in chosen)
        want: dict[int, float] = {}
        for k in chosen:
            for u in passages.get(k, np.zeros(0, np.int64)).tolist():
                want[u] = want.get(u, 0.0) + KIND_WEIGHTS[kind_of(k)] / total
        got = qa.passage_shares(kinds)
        assert dict(got) == want and got.get(10**6) is None
        assert all(got[u].hex() == want[u].hex() for u in want)

    class Stories:
        @staticmethod
        def stories_of(uids: object) -> np.ndarray:
            u = np.asarray(uids, np.int64)
            return np.where(u % 7 == 0, -1, u // 25)  # -1: not live

    names = qa.names()
    held: dict[int, int] = {}
    for k in names:
        if k in passages:
            for s in set(Stories.stories_of(passages[k]).tolist()) - {-1}:
                held[s] = held.get(s, 0) + 1
    assert qa.best_story_share(Stories(), names) == max(held.values()) / len(names)
    assert qa.best_story_share(Stories(), names, exact=True) == 1 / len(names)
    assert qa.best_story_share(Stories(), ("name:zz",)) == 0.0
