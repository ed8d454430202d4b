"""The sentence-score features of `retrieval/answer/sentences.py`, each on a tiny input."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.answer.sentences import Candidate, local_idf_coverage, new_name, new_number, speaker_rule


def test_local_idf_coverage_weighs_words_by_their_rarity_in_the_passage() -> None:
    # Term 0 is in every sentence, term 1 in one: inside this passage only term 1 tells sentences apart.
    present = np.array([[True, False], [True, True], [True, False]])
    weights = np.array([0.5, 0.5])
    local = local_idf_coverage(present, weights, n_sentences=3)
    assert local[1] == pytest.approx(1.0)
    assert local[0] == local[2] < 0.5 * local[1]  # the plain share would give 0.5 against 1.0


def test_new_number_wants_an_amount_when_the_question_asks_for_one() -> None:
    assert new_number("It opened in 2021.", set(), amount=False)
    assert not new_number("It opened in 2021.", set(), amount=True)  # a date does not say what it is worth
    assert new_number("It is valued at $1 billion.", set(), amount=True)
    assert not new_number("In 2021 it opened.", {"2021"}, amount=False)  # the question's own number
    assert not new_number("It opened in 2021.", None, amount=False)  # the question kind wants no number


def test_new_name_skips_the_sentence_start_and_the_question_names() -> None:
    assert not new_name("Yesterday it rained.", set())
    assert new_name("Yesterday Peskov spoke.", set())
    assert not new_name("Yesterday Peskov spoke.", {"Peskov"})


def test_speaker_rule_lifts_the_speaker_only_when_the_best_sentence_has_no_speech() -> None:
    def cands(best_speaks: bool) -> list[Candidate]:
        return [
            Candidate(0, 0, 0, 10, 1.0, "en", speech=best_speaks),
            Candidate(0, 1, 11, 20, 0.6, "en", speech=True, speaks=True),
            Candidate(0, 2, 21, 30, 0.8, "en"),
        ]

    lifted = cands(best_speaks=False)
    speaker_rule(lifted, 1.0)
    assert [c.score for c in lifted] == [1.0, 1.6, 0.8]
    kept = cands(best_speaks=True)
    speaker_rule(kept, 1.0)
    assert [c.score for c in kept] == [1.0, 0.6, 0.8]
    off = cands(best_speaks=False)
    speaker_rule(off, 0.0)
    assert [c.score for c in off] == [1.0, 0.6, 0.8]
