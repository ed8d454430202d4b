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
