"""What a "how many / how much" question counts, and which sentence holds that count
(retrieval/answer/counted.py)."""

from __future__ import annotations

import pytest

from retrieval.answer.counted import MONEY, asked_count, counts


@pytest.mark.parametrize(
    ("question", "lang", "units", "noun"),
    [
        ("How many people were killed in the double bombing in Istanbul?", "en", {"ppl"}, ""),
        ("How many were injured?", "en", {"ppl"}, ""),
        ("How many years has Hun Sen ruled Cambodia?", "en", {"yr"}, ""),
        ("How old is Kaka?", "en", {"age"}, ""),
        ("How much did the new supercomputer cost?", "en", set(MONEY), ""),
        ("How many microprocessors are inside ASCI White?", "en", set(), "microprocessors"),
        ("쿤밍 버스 폭탄 테러로 몇 명이 숨졌나?", "ko", {"ppl"}, ""),
        ("라이스 국무장관은 몇 개국 대표를 불러 모았나?", "ko", {"countries"}, ""),
        ("훈센 총리는 몇 년째 캄보디아를 통치하고 있나?", "ko", {"yr"}, ""),
        ("카말의 가족은 몸값을 얼마나 냈나?", "ko", set(MONEY), ""),
        ("포사다는 이번 시즌 홈런을 몇 개 쳤나?", "ko", set(), "홈런"),
        ("나달은 몇 연승을 이어가고 있나?", "ko", set(), "연승"),  # the counter is what is counted
    ],
)
def test_the_counted_unit_or_noun_is_read(question: str, lang: str, units: set[str], noun: str) -> None:
    asked = asked_count(question, lang)  # type: ignore[arg-type]
    assert asked is not None
    assert (set(asked.units), asked.noun) == (units, noun)


def test_a_question_that_names_no_count_asks_for_none() -> None:
    assert asked_count("How is the weather in Seoul?", "en") is None
    assert asked_count("일본 지진의 규모는 얼마였나?", "ko") is None  # a magnitude: no unit, no noun


@pytest.mark.parametrize(
    ("question", "lang", "right", "wrong"),
    [
        (
            "How many people were killed in the double bombing in Istanbul?", "en",
            "Seventeen people were killed and at least 154 injured, according to the Anadolu news agency.",
            "Thousands of mourners were joined Monday by Prime Minister Erdogan at the funerals of victims killed in Sunday's bombing.",
        ),
        (
            "9·11 테러범 가운데 사우디 국민은 몇 명이었나?", "ko",
            "그는 또한 19명의 항공기 탈취범들 중 15명이 사우디 아라비아 국민이었다는 데 대해 고뇌를 표명했다.",
            "압둘라 황태자는 부시 대통령에게 9월 11일 테러 공격에 대한 애도의 뜻을 전하는 편지를 썼다.",
        ),
        (
            "How much did Twilight take at the box office on its opening weekend?", "en",
            "The vampire romance opens at number 1 this weekend with more than $70 million.",
            "It opened in 3,419 theaters on Friday, November 21.",
        ),
        (
            "카말의 가족은 그를 풀어 주는 대가로 몸값을 얼마나 냈나?", "ko",
            "그는 15일 감금됐고, 가족들이 1500달러의 몸값을 치르고 나서야 겨우 풀려 났다.",
            "그는 15일 동안 매일 폭행을 당했다.",
        ),
        (
            "포사다는 이번 시즌 홈런을 몇 개 쳤나?", "ko",
            "올해 168타석에 들어서 2할6푼8리의 타율, 홈런 3개, 타점 22개의 저조한 기록을 남겼다.",
            "포사다는 14년에 걸쳐 풀타임 포수로 이름을 날렸다.",
        ),
        (
            "How many microprocessors are inside ASCI White?", "en",
            "The machine links 8,192 microprocessors in 512 cabinets.",
            "It can do 12 trillion calculations a second.",
        ),
        # ages as news writes them beside a name
        (
            "기내에서 난동을 부린 두 여성은 몇 살인가?", "ko",
            "The identities of the women, aged 26 and 27, were not released.",
            "Both women were released, police said.",
        ),
        (
            "카카는 몇 살인가?", "ko",
            "카카(26)의 이적설은 첼시가 스콜라리 감독을 영입한 이후 난무했다.",
            "AC밀란(AC Milan)은 이적설을 일축했다.",
        ),
        (
            "How old is Kaka?", "en",
            "Kaka, 26, has been linked with a move to Chelsea.",
            "Milan said in 2008, when the talks began, that he would stay.",
        ),
        (
            "나달은 몇 연승을 이어가고 있나?", "ko",
            "나달은 이번 우승으로 29연승을 이어갔다.",
            "나달은 2005년 이후 처음으로 결승에 올랐다.",
        ),
    ],
)  # fmt: skip
def test_the_sentence_with_the_count_asked_about_counts(question: str, lang: str, right: str, wrong: str) -> None:
    asked = asked_count(question, lang)  # type: ignore[arg-type]
    assert counts(right, asked)
    assert not counts(wrong, asked)


def test_no_count_asked_counts_nothing() -> None:
    assert not counts("Seventeen people were killed.", None)
