"""Quote assembly helpers of `retrieval/answer/quotes.py` on tiny inputs."""

from __future__ import annotations

from retrieval.answer.quotes import QuoteShape, answer_pool, same_text
from retrieval.answer.sentences import Candidate


def _c(score: float, lang: str) -> Candidate:
    return Candidate(0, int(score * 10), 0, 1, score, lang)  # type: ignore[arg-type]


def test_the_question_language_is_preferred_while_it_answers_nearly_as_well() -> None:
    share = QuoteShape().same_language_share
    pool, cross = answer_pool([_c(1.0, "en"), _c(share + 0.05, "ko")], "ko", QuoteShape())
    assert [c.sentence_lang for c in pool] == ["ko"] and not cross
    pool, cross = answer_pool([_c(1.0, "en"), _c(share - 0.05, "ko")], "ko", QuoteShape())
    assert [c.score for c in pool] == [1.0, share - 0.05] and cross


def test_same_text_is_one_quote_inside_another_whatever_the_case() -> None:
    assert same_text("The ferry leaves at noon.", "the ferry leaves at noon. Tickets cost 30,000 won.")
    assert not same_text("The ferry leaves at noon.", "The bus leaves at noon.")


def test_the_question_language_is_preferred_only_for_a_sentence_saying_the_same() -> None:
    """On the semantic path the preference asks the two sentences' cosine too: a same-language
    sentence of another story that shares the question's words does not displace the answer."""
    shape = QuoteShape()
    best, near = _c(1.0, "en"), _c(shape.same_language_share + 0.05, "ko")
    asked: list[tuple[float, float]] = []

    def related(cosine: float):  # type: ignore[no-untyped-def]
        def read(a: Candidate, b: Candidate) -> float:
            asked.append((a.score, b.score))
            return cosine

        return read

    pool, cross = answer_pool([best, near], "ko", shape, related(shape.same_language_min_cosine - 0.1))
    assert pool[0] is best and cross
    assert asked == [(near.score, best.score)]
    pool, cross = answer_pool([best, near], "ko", shape, related(shape.same_language_min_cosine + 0.1))
    assert [c.sentence_lang for c in pool] == ["ko"] and not cross
    asked.clear()
    pool, cross = answer_pool([_c(1.0, "ko"), _c(0.95, "en")], "ko", shape, related(0.0))
    assert pool[0].score == 1.0 and not cross and asked == []  # the best is in the question's language already
