"""Dates for "when", places for "where" (retrieval/answer/when_where.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.answer.when_where import dated, place_forms, placed
from retrieval.errors import AnchorDataError


@pytest.mark.parametrize(
    "sentence",
    [
        "Leno's last show will be Friday, May 29, NBC executives said.",
        "It began more than 14 years ago.",
        "Srebrenica was the scene of a massacre in 1995.",
        "양국 당국은 27일(현지시간) 치러지는 총선 이후 다시 회담을 가질 예정이다.",
        "전시회는 7월 24일 대영 박물관에서 열릴 예정이다.",
    ],
)
def test_dated_sentences(sentence: str) -> None:
    assert dated(sentence)


@pytest.mark.parametrize(
    "sentence",
    ["The exhibition will show how Hadrian pulled his troops out.", "캄보디아와 태국이 대치 상태를 해결하지 못했다."],
)
def test_undated_sentences(sentence: str) -> None:
    assert not dated(sentence)


def test_a_place_counts_only_when_the_question_does_not_name_it() -> None:
    q = "Where is the second round of Korea-EU free trade talks being held?"
    assert placed("About 130 Korean negotiators will meet EU negotiators in Brussels through Friday.", q)
    assert not placed("Korea and the European Union will begin their second round of talks today.", q)
    ko = "한-EU 자유무역협정 2차 협상은 어디에서 열리나?"
    assert placed("약 130명의 한국 협상단은 금요일까지 브뤼셀에서 회담을 진행할 예정이다.", ko)
    assert placed("SINGAPORE (CNN) Rice has begun talks with Asian officials.", "Where is Rice meeting Pak?")
    assert not placed("It was a good day, he said.", q)


def test_the_places_come_from_the_glossary_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    korean, english = place_forms()
    assert {"서울", "평양", "미국"} <= korean and {"Seoul", "Pyongyang"} <= english
    broken = tmp_path / "glossary.tsv"
    broken.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(AnchorDataError, match="glossary.tsv"):
        place_forms(broken)
    with pytest.raises(AnchorDataError, match="missing.tsv"):
        place_forms(tmp_path / "missing.tsv")
