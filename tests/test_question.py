"""Reading a question before any search: kind, speaker of a "say" question, subject of a
definition question, and whether it asks for an amount."""

from __future__ import annotations

import pytest

from retrieval import Analyzer
from retrieval.answer.question import definition_pattern, read_question


@pytest.mark.parametrize(
    ("question", "speaker"),
    [
        ("What did the Kremlin say?", "Kremlin"),
        ("What did the Kremlin say about Musk's Clubhouse invitation?", "Kremlin"),
        ("How did Peskov respond to Musk?", "Peskov"),
        ("What was the Kremlin's reaction?", "Kremlin"),
        ("크렘린 대변인의 반응은?", "크렘린 대변인"),
        ("크렘린궁은 머스크의 초대에 대해 뭐라고 했나요?", "크렘린궁"),
        (
            "미네르바가 글을 쓰게된 동기는 무엇이라고 밝혔는가?",
            "미네르바",
        ),  # the speaker comes first, not the last topic
        ("Peskov는 뭐라고 말했어?", "Peskov"),
        # no speaker: a name for a thing, a verb form ending in 는, a proper noun that looks like a verb
        ("여름의 금강산은 무엇이라고 불리는가?", ""),
        ("상대의 기물에 킹이 체크 당하며 피할 수 있는 방법이 없는 상황을 무엇이라 하는가?", ""),
        ("황강댐 무단 방류가 의도적인 행위라고 발언한 통일부 장관은?", ""),
        ("What does the Islamic State lack from the international community?", ""),
    ],
)
def test_speaker_of_a_say_question(analyzer: Analyzer, question: str, speaker: str) -> None:
    assert read_question(question, analyzer.morphemes).speaker == speaker


@pytest.mark.parametrize(
    ("question", "subject"),
    [("What is Clubhouse?", "Clubhouse"), ("Who is Dmitry Peskov?", "Dmitry Peskov"), ("클럽하우스는 무엇인가요?", "클럽하우스"),
     ("Who invited Putin to Clubhouse?", ""), ("What did the Kremlin say?", "")],
)  # fmt: skip
def test_subject_of_a_definition_question(question: str, subject: str) -> None:
    assert read_question(question).subject == subject


@pytest.mark.parametrize(
    ("sentence", "subject", "lang", "defines"),
    [
        ("Musk invited Putin to a conversation on Clubhouse, which is an audio-only app.", "Clubhouse", "en", True),
        ("Russia hasn't ruled out talks on social media app Clubhouse, according to reports.", "Clubhouse", "en", True),
        (
            "Kremlin spokesperson Dmitry Peskov on Monday told reporters the proposal was interesting.",
            "Peskov",
            "en",
            True,
        ),
        ("Musk interviewed Robinhood co-founder Vlad Tenev on Clubhouse on Jan. 30.", "Clubhouse", "en", False),
        ("“First we want to figure it out,” Peskov said.", "Peskov", "en", False),
        ("클럽하우스는 약 500만 이상의 다운로드가 진행된 어플로 알려졌다.", "클럽하우스", "ko", True),
        ("머스크는 음성으로 대화하는 소셜미디어(SNS) ‘클럽하우스’에 푸틴을 초대했다.", "클럽하우스", "ko", True),
        ("한편, 클럽하우스는 지난달에 가치를 평가받았다.", "클럽하우스", "ko", False),
    ],
)
def test_definition_pattern(sentence: str, subject: str, lang: str, defines: bool) -> None:
    pattern = definition_pattern(subject, lang)  # type: ignore[arg-type]
    assert pattern is not None and bool(pattern.search(sentence)) == defines


@pytest.mark.parametrize(
    ("question", "amount"),
    [("How much is Clubhouse worth?", True), ("싸이버스카이의 2014년 매출은 얼마였나?", True),
     ("How many times has Clubhouse been downloaded?", False), ("가장 많이 쓰이는 체스보드 정사각형 한 변의 길이는 얼마인가?", False)],
)  # fmt: skip
def test_amount_questions(question: str, amount: bool) -> None:
    assert read_question(question).amount == amount
